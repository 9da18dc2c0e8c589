// The source identity a sender announces: the schema shared with the receivers' guard.
export type { SourceIdentity } from '../../runtime/source-identity';
