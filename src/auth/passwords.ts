import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/** The shortest password we accept. */
export const MIN_PASSWORD_LENGTH = 8;
/** scrypt reads at most this much; longer inputs only cost CPU. */
export const MAX_PASSWORD_LENGTH = 256;

/**
 * scrypt N=2^15, r=8, p=1: 32 MiB and about 200 ms per hash on the 2-core machine this runs on. OWASP
 * pairs N=2^15 with p=3; that would make every login take 0.4 s of a core, so p=1 is kept and the login
 * throttle bounds guessing. The parameters are stored in each hash, so raising them later only means
 * rehashing at the next successful login.
 */
const current = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/**
 * How many hashes run at once: libuv's thread pool less two threads. scrypt runs on that pool, and so does
 * everything else that must not wait behind a burst of sign-ins (a class signing in at the start of a
 * lesson): the database driver's SCRAM handshake when it opens a connection, jose's HMAC check of every
 * access token (WebCrypto), file reads and writes, compression. Forty sign-ins at once held a SHA-256 digest
 * back for 4.2 s and made new database connections time out (503); with two threads kept free it runs at
 * once. On two cores, two hashes at a time sign people in as fast as four. `UV_THREADPOOL_SIZE` raises both.
 */
const hashingSlots = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 2);
let hashesRunning = 0;
/** Hashes waiting for a slot, first come first served. */
const waitingForSlot: (() => void)[] = [];

async function inHashingSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashesRunning >= hashingSlots) await new Promise<void>((resolve) => waitingForSlot.push(resolve));
  else hashesRunning++;
  try {
    return await work();
  } finally {
    // The slot passes straight to the next in line, so a newcomer cannot overtake those waiting.
    const next = waitingForSlot.shift();
    if (next) next();
    else hashesRunning--;
  }
}

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return inHashingSlot(
    () =>
      new Promise((resolve, reject) =>
        scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, options, (error, key) =>
          error ? reject(error) : resolve(key),
        ),
      ),
  );
}

/**
 * Hashes a password with a fresh salt.
 * @returns `scrypt$N$r$p$salt$hash`, salt and hash in base64
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, current);
  return ["scrypt", current.N, current.r, current.p, salt.toString("base64"), key.toString("base64")].join("$");
}

/**
 * Hashes many passwords (an import of a school's students), each with its own salt. At most as many are
 * handed to the hashing slots at once as there are slots, the next only when one is done, so a sign-in
 * that arrives meanwhile waits for one hash, not for all the others.
 * @returns the hashes, in the order of the passwords
 */
export async function hashPasswords(passwords: readonly string[]): Promise<string[]> {
  const hashes: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < passwords.length) {
      const index = next++;
      hashes[index] = await hashPassword(passwords[index] ?? "");
    }
  };
  await Promise.all(Array.from({ length: Math.min(hashingSlots, passwords.length) }, worker));
  return hashes;
}

/**
 * Compares a password with a stored hash in constant time. A malformed hash matches nothing.
 * @param password - the candidate
 * @param stored - the output of hashPassword
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) {
    // Spend the same time as a real comparison, so unusable accounts cannot be told apart by timing.
    await derive(password, Buffer.alloc(SALT_LENGTH), current);
    return false;
  }
  const expected = Buffer.from(hash, "base64");
  // Parameters scrypt refuses (not numbers, N not a power of two) make the hash malformed, not a 500.
  const actual = await derive(password, Buffer.from(salt, "base64"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  }).catch(() => undefined);
  return actual !== undefined && actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** @returns whether a stored hash was made with weaker parameters than today's */
export function needsRehash(stored: string): boolean {
  const [, n, r, p] = stored.split("$");
  return Number(n) !== current.N || Number(r) !== current.r || Number(p) !== current.p;
}

/** A hash no password matches, for comparing against when the email is unknown (equal timing). */
export const UNUSABLE_PASSWORD_HASH = "unusable";
