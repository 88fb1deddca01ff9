/**
 * Log sequence numbers: numeric(25,0) values laid out as VLF sequence ‖ log block (10 digits) ‖ slot (5 digits),
 * kept as bigint and sent as exact decimal strings. They start above 2^53,
 * as real ones do, so a client that reads them as JS numbers loses precision exactly as it would in production.
 */
const SLOT = 100_000n;
const BLOCK = 10_000_000_000n;

/** Where a new database's log starts: VLF 34, block 16, slot 1 → 34000000001600001. */
export const FIRST_LSN = lsnOf(34n, 16n, 1n);

export function lsnOf(vlf: bigint, block: bigint, slot: bigint): bigint {
  return vlf * BLOCK * SLOT + block * SLOT + slot;
}

/** The LSN after `lsn`: the next log block, slot 1; a full VLF rolls over to the next one. */
export function nextLsn(lsn: bigint): bigint {
  const vlf = lsn / (BLOCK * SLOT);
  const block = (lsn / SLOT) % BLOCK;
  return block + 1n >= 100_000n ? lsnOf(vlf + 1n, 16n, 1n) : lsnOf(vlf, block + 1n, 1n);
}

export function formatLsn(lsn: bigint | null | undefined): string | null {
  return lsn === null || lsn === undefined ? null : lsn.toString();
}

export function parseLsn(text: string): bigint {
  return BigInt(text);
}
