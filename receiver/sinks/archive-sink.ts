// The archive role: --output DIR or --output 'DIR/app-{timestamp}.dump'. Each run writes a
// new file (through FileSink: a new temp file, fsync, link into place only once verified), then
// a sha256sum-style `.sha256` beside it, then removes the oldest archives beyond --keep.
import * as fs from 'fs';
import * as path from 'path';
import { DUMP_FILE_MODE, isPlainFileName, writeFileAtomicAsync } from '../../runtime/safe-file';
import { FileSink } from './file-sink';
import type { SinkFailure, Verified } from './sink';

export interface ArchiveSpec {
  dir: string;
  /** A file name with {timestamp}, {job} and/or {name}. */
  template: string;
  /** Archives to keep (this one included); 0 keeps all. */
  keep: number;
}

export const ARCHIVE_PLACEHOLDERS = ['timestamp', 'job', 'name'];
export const DEFAULT_ARCHIVE_TEMPLATE = '{job}-{timestamp}.dump';
/** Added to the name of a file that keeps a stream as sent, zstd-compressed (--store compressed). */
export const COMPRESSED_SUFFIX = '.zst';

/** 2026-11-23T01:48:42.123Z → 20261123T014842Z: sorts by time, safe in file names. */
export function archiveTimestamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => vars[k]);
}

/** Names this template produced (stored compressed too: + .zst), for retention: only our own files are ever removed. */
function pattern(template: string, vars: Record<string, string>): RegExp {
  const parts = template.split(/(\{\w+\})/).map((p) => {
    if (p === '{timestamp}') return '\\d{8}T\\d{6}Z';
    const m = /^\{(\w+)\}$/.exec(p);
    return (m ? vars[m[1]] : p).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('')}(?:${COMPRESSED_SUFFIX.replace('.', '\\.')})?$`);
}

export class ArchiveSink extends FileSink {
  /** suffix: COMPRESSED_SUFFIX when this archive keeps the compressed stream. */
  constructor(private readonly spec: ArchiveSpec, private readonly vars: { job: string; name: string }, now: Date, suffix = '') {
    const name = fill(spec.template, { ...vars, timestamp: archiveTimestamp(now) }) + suffix;
    // Options refuse such job and receiver names already; this keeps the file in spec.dir regardless.
    const refusal = isPlainFileName(name) ? null : `the archive name ${JSON.stringify(name)} is not a plain file name (it has / or NUL, or is . or ..)`;
    super(path.join(spec.dir, refusal ? '<refused name>' : name), true, refusal, 'archive');
  }

  override async finish(verified: Verified): Promise<SinkFailure | null> {
    const failure = await super.finish(verified);
    if (failure) return failure;
    const base = path.basename(this.finalPath);
    const sumFile = `${this.finalPath}.sha256`;
    try {
      await writeFileAtomicAsync(sumFile, `${verified.sha256}  ${base}\n`, DUMP_FILE_MODE);
    } catch (err) {
      return { kind: this.kind, label: this.label, message: `writing ${sumFile} failed: ${(err as Error).message}`, exitCode: -1 };
    }
    if (this.spec.keep > 0) await this.prune();
    return null;
  }

  private async prune(): Promise<void> {
    const re = pattern(this.spec.template, this.vars);
    const ours = (await fs.promises.readdir(this.spec.dir)).filter((f) => re.test(f)).sort();
    for (const old of ours.slice(0, Math.max(0, ours.length - this.spec.keep))) {
      if (old === path.basename(this.finalPath)) continue;
      await fs.promises.rm(path.join(this.spec.dir, old), { force: true });
      await fs.promises.rm(path.join(this.spec.dir, `${old}.sha256`), { force: true });
    }
  }
}
