/**
 * The simulated estate's certificates, as an estate with an internal CA has them: a private CA (ca.pem, the file a
 * topology's caFile names) and, for each instance, a server certificate for the names clients reach it by (its
 * host, its computer's DNS and short names), signed by that CA. They live in <state folder>/tls/ and are reused
 * on restart; a certificate whose names no longer match the topology is issued anew.
 *
 * Keys and signatures are Node's (OpenSSL); node-forge only lays out the X.509 structures, which Node cannot write.
 */
import { createPrivateKey, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A certificate and its private key, both PEM. */
export interface KeyAndCertificate {
  key: string;
  cert: string;
}

/** What a server certificate must name: DNS names and IP addresses (subjectAltName), the first DNS name as CN. */
export interface CertificateNames {
  dns: string[];
  ips: string[];
}

const CA_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca.key';
const CA_YEARS = 10;
const SERVER_YEARS = 2;
/** A certificate this close to its end is issued anew rather than reused. */
const RENEW_BEFORE_MS = 7 * 86_400_000;

/** The CA certificate's file in a tls folder: what the example topology's caFile names. */
export function caFileOf(tlsDir: string): string {
  return path.join(tlsDir, CA_FILE);
}

/**
 * Makes sure `tlsDir` holds a valid CA and, for each server (by label), a certificate for exactly its names, issued by
 * that CA; returns each server's key and certificate.
 */
export async function ensureCertificates(
  tlsDir: string,
  servers: { label: string; names: CertificateNames }[],
): Promise<Map<string, KeyAndCertificate>> {
  mkdirSync(tlsDir, { recursive: true });
  const caKeyFile = path.join(tlsDir, CA_KEY_FILE);
  const caCertFile = caFileOf(tlsDir);
  const savedCa = readPair(caKeyFile, caCertFile);
  const caCertificate = savedCa && isCurrent(savedCa.cert) ? new X509Certificate(savedCa.cert) : undefined;
  const files = (label: string) => ({
    keyFile: path.join(tlsDir, `${label}.key`),
    certFile: path.join(tlsDir, `${label}.pem`),
  });
  const saved = new Map(
    servers.map((server) => {
      const { keyFile, certFile } = files(server.label);
      const pair = readPair(keyFile, certFile);
      const valid = pair && caCertificate && isCurrent(pair.cert, caCertificate) && namesMatch(pair.cert, server.names);
      return [server.label, valid ? pair : undefined];
    }),
  );
  const toIssue = servers.filter((server) => !saved.get(server.label));
  // Making RSA keys is most of the work: all at once, on libuv's threads.
  const keys = await Promise.all(Array.from({ length: toIssue.length + (caCertificate ? 0 : 1) }, () => newRsaKey()));
  let caPair = savedCa;
  if (!caCertificate) {
    caPair = createCa(keys.pop()!);
    writePair(caKeyFile, caCertFile, caPair);
  }
  const ca: Authority = {
    key: createPrivateKey(caPair!.key),
    forgeCertificate: forge.pki.certificateFromPem(caPair!.cert),
  };
  const issued = new Map<string, KeyAndCertificate>();
  for (const server of servers) {
    let pair = saved.get(server.label);
    if (!pair) {
      pair = issueServerCertificate(ca, server.names, keys.pop()!);
      const { keyFile, certFile } = files(server.label);
      writePair(keyFile, certFile, pair);
    }
    issued.set(server.label, pair);
  }
  return issued;
}

interface Authority {
  key: KeyObject;
  forgeCertificate: forge.pki.Certificate;
}

interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function createCa({ privateKey, publicKey }: KeyPair): KeyAndCertificate {
  const subject = [
    { name: 'commonName', value: 'pchat-dr simulator CA' },
    { name: 'organizationName', value: 'pchat-dr simulator' },
  ];
  const cert = newCertificate(publicKey, subject, subject, CA_YEARS);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWith(cert, privateKey);
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: forge.pki.certificateToPem(cert),
  };
}

function issueServerCertificate(
  ca: Authority,
  names: CertificateNames,
  { privateKey, publicKey }: KeyPair,
): KeyAndCertificate {
  const commonName = names.dns[0] ?? names.ips[0];
  const cert = newCertificate(
    publicKey,
    [{ name: 'commonName', value: commonName }],
    ca.forgeCertificate.subject.attributes,
    SERVER_YEARS,
  );
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.forgeCertificate.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signWith(cert, ca.key);
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: forge.pki.certificateToPem(cert),
  };
}

function newRsaKey(): Promise<KeyPair> {
  return generateKeyPairAsync('rsa', { modulusLength: 2048 });
}

function newCertificate(
  publicKey: KeyObject,
  subject: forge.pki.CertificateField[],
  issuer: forge.pki.CertificateField[],
  years: number,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // 16 random bytes, the top bit clear (a DER INTEGER with it set would be negative) and the first byte not 0 (a
  // leading zero byte would not be minimal DER, which OpenSSL refuses).
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  cert.serialNumber = serial.toString('hex');
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + years * 365 * 86_400_000);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  return cert;
}

/** forge's own sign() computes RSA in JavaScript; its TBSCertificate builder (untyped) lets Node sign instead. */
const pki = forge.pki as typeof forge.pki & { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

/** sha256WithRSAEncryption over the TBSCertificate, computed by Node, set where forge keeps its own signature. */
function signWith(cert: forge.pki.Certificate, signer: KeyObject): void {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  cert.tbsCertificate = pki.getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, signer).toString('binary');
}

function readPair(keyFile: string, certFile: string): KeyAndCertificate | undefined {
  if (!existsSync(keyFile) || !existsSync(certFile)) return undefined;
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}

function writePair(keyFile: string, certFile: string, pair: KeyAndCertificate): void {
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(certFile, pair.cert);
}

/** Parses, is valid for a while yet, and (given an issuer) was signed by it. */
function isCurrent(pem: string, issuer?: X509Certificate): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return false;
  }
  if (new Date(certificate.validTo).getTime() - Date.now() < RENEW_BEFORE_MS) return false;
  return !issuer || (certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey));
}

function namesMatch(pem: string, names: CertificateNames): boolean {
  const wanted = [...names.dns.map((name) => `DNS:${name}`), ...names.ips.map((ip) => `IP Address:${ip}`)].sort();
  const present = (new X509Certificate(pem).subjectAltName ?? '').split(', ').filter(Boolean).sort();
  return JSON.stringify(present) === JSON.stringify(wanted);
}

/** The names a server certificate needs for an instance: its computer's DNS and short names, and its host. */
export function certificateNamesOf(server: { fqdn: string; machineName: string; host: string }): CertificateNames {
  const dns = [server.fqdn, server.machineName.toLowerCase()];
  if (!isIP(server.host)) dns.push(server.host.toLowerCase());
  return { dns: [...new Set(dns)], ips: isIP(server.host) ? [server.host] : [] };
}
