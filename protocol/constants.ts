// Wire constants and hard limits. Every variable-length field has a bound here.

export const MAGIC0 = 0x44; // 'D'
export const MAGIC1 = 0x43; // 'C'
// 2: STATUS carries the highest offset received and the receiver's flow window.
// 3: JOIN carries a fresh challenge and, once validated, a cookie; WELCOME echoes both and
//    assigns the receiver id; STATUS and DONE echo the cookie (return routability).
export const PROTOCOL_VERSION = 4;

/** magic(2) version(1) type(1) sessionId(8) */
export const HEADER_BYTES = 12;
/** CRC-32 trailer */
export const TRAILER_BYTES = 4;
/** IPv4 (20) + UDP (8) headers, for sizing datagrams against a link MTU. */
export const IP_UDP_OVERHEAD_BYTES = 28;
/** What an Ethernet frame costs beyond its IP packet: header 14, FCS 4, preamble 8, gap 12.
 *  The rate limit counts these, so 1000 Mbit/s fits a gigabit link instead of overrunning it. */
export const LINK_FRAMING_BYTES = 38;
/** Bytes a datagram occupies on an Ethernet wire. */
export const frameBytes = (datagramBytes: number): number => datagramBytes + IP_UDP_OVERHEAD_BYTES + LINK_FRAMING_BYTES;

export enum PacketType {
  Announce = 1,
  Join = 2,
  Welcome = 3,
  Data = 4,
  Heartbeat = 5,
  Status = 6,
  End = 7,
  Done = 8,
  DoneAck = 9,
  Abort = 10,
  Drop = 11,
}

export const DATA_FIELDS_BYTES = 8; // offset u64
export const DATA_OVERHEAD_BYTES = HEADER_BYTES + DATA_FIELDS_BYTES + TRAILER_BYTES;
/** Largest UDP payload over IPv4 is 65507 bytes. */
export const MAX_DATAGRAM_BYTES = 65507;
export const MAX_PAYLOAD_BYTES = MAX_DATAGRAM_BYTES - DATA_OVERHEAD_BYTES;
export const MIN_PAYLOAD_BYTES = 256;
/** The sender allocates DATA packets this many bytes at a time (see PacketSlab). */
export const PACKET_SLAB_BYTES = 1024 * 1024;
/** Fits a 1500-byte Ethernet MTU without IP fragmentation. */
export const DEFAULT_PAYLOAD_BYTES = 1500 - IP_UDP_OVERHEAD_BYTES - DATA_OVERHEAD_BYTES;

/** JOIN's fresh random challenge, echoed by the WELCOME that answers it. */
export const CHALLENGE_BYTES = 16;
/** What the sender hands a receiver that proved it receives at its address; echoed in STATUS and DONE. */
export const COOKIE_BYTES = 16;
/** A JOIN is padded to at least this datagram size, so answering one never sends more bytes than it took. */
export const MIN_JOIN_DATAGRAM_BYTES = 128;

export const MAX_NAME_BYTES = 64;
export const MAX_JOB_BYTES = 64;
export const MAX_DETAIL_BYTES = 255;
/** ANNOUNCE's stream description (compression, the source's identity: JSON the app reads). */
export const MAX_ANNOUNCE_INFO_BYTES = 768;
export const MAX_ABORT_MESSAGE_BYTES = 512;
export const MAX_NAK_RANGES = 64;
/** Flow window a receiver advertises when it is not told its socket buffer (tests, simulation). */
export const DEFAULT_FLOW_WINDOW_BYTES = 2 * 1024 * 1024;
/** What the sender assumes of a receiver until its first STATUS: one round trip's worth at most. */
export const INITIAL_FLOW_WINDOW_BYTES = 256 * 1024;
/** The sender never lets a receiver's advertised flow window go below this. */
export const MIN_FLOW_WINDOW_BYTES = 64 * 1024;
/** Offsets must stay exact in a JS number. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;
export const SHA256_BYTES = 32;

/** What a WELCOME says about the JOIN it answers. */
export enum WelcomeVerdict {
  /** Here is a cookie: JOIN again with it from the same address. Sent to the group, never to the JOIN's source. */
  Validate = 0,
  /** Joined, with this receiver id. */
  Admitted = 1,
  /** Refused; the reason is a DropReason. */
  Refused = 2,
}

/** Outcome a receiver reports in DONE. */
export enum DoneStatus {
  Ok = 0,
  HashMismatch = 1,
  SinkFailed = 2,
  Aborted = 3,
  LocalError = 4,
  /** The receiver's restore target is not usable (tool missing, database unreachable, no disk). */
  PreflightFailed = 5,
  /** Another sender announced the same job before the stream verified (receiver/source guard,
   *  or the session saw two live senders): nothing was delivered. */
  SplitBrain = 6,
  /** The source's identity is older than, or not what, this job accepts (older timeline, a
   *  replica without allowance): nothing was delivered. */
  StaleSource = 7,
}

/** What a receiver's restore preset did to the live database (reported in DONE). */
export enum RestoreOutcome {
  /** No restore preset on this receiver. */
  None = 0,
  /** The restored copy replaced the live database. */
  Swapped = 1,
  /** The restore failed; the live database is as it was. */
  KeptOld = 2,
  /** MariaDB: the tables were swapped but recreating views/triggers/routines failed. */
  Partial = 3,
  /** A whole server was swapped, did not come up, and putting the previous one back failed too:
   *  the host needs an operator now. */
  RollbackFailed = 4,
}

export const RESTORE_OUTCOME_NAMES: Record<RestoreOutcome, string | null> = {
  [RestoreOutcome.None]: null,
  [RestoreOutcome.Swapped]: 'swapped',
  [RestoreOutcome.KeptOld]: 'kept-old',
  [RestoreOutcome.Partial]: 'partial',
  [RestoreOutcome.RollbackFailed]: 'rollback-failed',
};

/** Why the sender dropped or refused a receiver. */
export enum DropReason {
  Late = 1,
  Full = 2,
  Silent = 3,
  Slow = 4,
  NotAllowed = 5,
  Aborted = 6,
  /** --receivers: that name already joined from another address. */
  DuplicateName = 7,
}

/** Why the sender aborted a session. */
export enum AbortReason {
  InputFailed = 1,
  NoReceivers = 2,
  Interrupted = 3,
  NoReceiversLeft = 4,
  /** Another sender announces the same job: racing it could restore the wrong primary's dump. */
  SplitBrain = 5,
}

export const DONE_STATUS_NAMES: Record<DoneStatus, string> = {
  [DoneStatus.Ok]: 'ok',
  [DoneStatus.HashMismatch]: 'hash-mismatch',
  [DoneStatus.SinkFailed]: 'sink-failed',
  [DoneStatus.Aborted]: 'aborted',
  [DoneStatus.LocalError]: 'local-error',
  [DoneStatus.PreflightFailed]: 'preflight-failed',
  [DoneStatus.SplitBrain]: 'split-brain',
  [DoneStatus.StaleSource]: 'stale-source',
};

export const DROP_REASON_NAMES: Record<DropReason, string> = {
  [DropReason.Late]: 'late-join',
  [DropReason.Full]: 'too-many-receivers',
  [DropReason.Silent]: 'silent',
  [DropReason.Slow]: 'too-slow',
  [DropReason.NotAllowed]: 'not-allowed',
  [DropReason.Aborted]: 'session-aborted',
  [DropReason.DuplicateName]: 'duplicate-name',
};

export const ABORT_REASON_NAMES: Record<AbortReason, string> = {
  [AbortReason.InputFailed]: 'input-failed',
  [AbortReason.NoReceivers]: 'not-enough-receivers',
  [AbortReason.Interrupted]: 'interrupted',
  [AbortReason.NoReceiversLeft]: 'no-receivers-left',
  [AbortReason.SplitBrain]: 'split-brain',
};
