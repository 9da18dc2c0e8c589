export * from './constants';
export * from './codec';
export * from './endpoint';
export * from './sender-session';
export * from './receiver-session';
export { crc32, crc32Package } from './crc';
export * from './envelope';
