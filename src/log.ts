// Logs go to stderr (stdout may carry the stream itself).
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(role: string, level: string): Logger {
  return winston.createLogger({
    level,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug', 'silly'] })],
    format: winston.format.printf((i) => `dbcast ${role}: ${i.level === 'info' ? '' : `${i.level}: `}${String(i.message)}`),
  });
}
