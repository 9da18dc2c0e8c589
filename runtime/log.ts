// Logs go to stderr (stdout may carry the stream itself). Under systemd (journald) the
// daemon writes JSON lines; on a terminal, readable text.
import winston from 'winston';

export type Logger = winston.Logger;
export type LogFormat = 'auto' | 'text' | 'json';

/** auto: JSON when started by systemd (INVOCATION_ID) and stderr is not a terminal. */
export function resolveLogFormat(format: LogFormat): 'text' | 'json' {
  if (format !== 'auto') return format;
  return process.env.INVOCATION_ID && !process.stderr.isTTY ? 'json' : 'text';
}

export function createLogger(role: string, level: string, format: LogFormat = 'text'): Logger {
  const json = resolveLogFormat(format) === 'json';
  return winston.createLogger({
    level,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug', 'silly'] })],
    format: json
      ? winston.format.combine(winston.format.timestamp(), winston.format((i) => ({ ...i, component: role }))(), winston.format.json())
      : winston.format.printf((i) => `dbcast ${role}: ${i.level === 'info' ? '' : `${i.level}: `}${String(i.message)}`),
  });
}
