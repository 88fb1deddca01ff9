/**
 * How a client of an instance encrypts and checks its connection, in the options tedious (under mssql) takes: TLS
 * when `encrypt`; the certificate checked against the host unless `trustServerCertificate`; and, when the topology
 * names a `caFile` (an internal CA, or the simulator's), that CA instead of the default roots.
 */
import { readFileSync } from 'node:fs';
import type { Instance } from './schema';

export interface DriverEncryption {
  encrypt: boolean;
  trustServerCertificate: boolean;
  /** tedious passes it to tls.createSecureContext: `ca` replaces the default (Mozilla) roots. */
  cryptoCredentialsDetails?: { ca: string };
}

export function driverEncryption(
  instance: Pick<Instance, 'name' | 'encrypt' | 'trustServerCertificate' | 'caFile'>,
): DriverEncryption {
  const settings = { encrypt: instance.encrypt, trustServerCertificate: instance.trustServerCertificate };
  if (!instance.caFile) return settings;
  let ca: string;
  try {
    ca = readFileSync(instance.caFile, 'utf8');
  } catch (err) {
    throw new Error(`instance ${instance.name}: cannot read its caFile ${instance.caFile}: ${(err as Error).message}`);
  }
  return { ...settings, cryptoCredentialsDetails: { ca } };
}
