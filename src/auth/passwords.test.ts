import assert from "node:assert/strict";
import { scryptSync } from "node:crypto";
import { testConfig } from "../testing/server.js";
import { hashPassword, hashPasswords, needsRehash, UNUSABLE_PASSWORD_HASH, verifyPassword } from "./passwords.js";
import { issueAccessToken, verifyAccessToken } from "./tokens.js";

describe("password hashing (src/auth/passwords.ts)", () => {
  const password = "correct horse battery staple";
  let stored: string;
  before(async () => {
    stored = await hashPassword(password);
  });

  it("stores scrypt$32768$8$1$salt$hash with a 16-byte salt and a 32-byte key in base64", () => {
    const parts = stored.split("$");
    assert.equal(parts.length, 6);
    const [scheme, n, r, p, salt = "", hash = ""] = parts;
    assert.deepEqual([scheme, n, r, p], ["scrypt", "32768", "8", "1"]);
    assert.match(stored, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
    assert.equal(Buffer.from(salt, "base64").length, 16);
    assert.equal(Buffer.from(hash, "base64").length, 32);
    assert.ok(!stored.includes(password));
  });

  it("verifies the password it hashed", async () => {
    assert.equal(await verifyPassword(password, stored), true);
  });

  it("refuses a wrong password, including one that differs only in case or by a trailing space", async () => {
    assert.equal(await verifyPassword("wrong password!", stored), false);
    assert.equal(await verifyPassword(password.toUpperCase(), stored), false);
    assert.equal(await verifyPassword(`${password} `, stored), false);
    assert.equal(await verifyPassword("", stored), false);
  });

  it("salts every hash: the same password hashes differently twice, and both verify", async () => {
    const again = await hashPassword(password);
    assert.notEqual(again, stored);
    assert.notEqual(again.split("$")[4], stored.split("$")[4], "the salts differ");
    assert.notEqual(again.split("$")[5], stored.split("$")[5], "the keys differ");
    assert.equal(await verifyPassword(password, again), true);
  });

  it("answers false, without throwing, for malformed stored hashes", async () => {
    const [, , , , salt = "", hash = ""] = stored.split("$");
    const malformed = [
      "",
      UNUSABLE_PASSWORD_HASH,
      "scrypt",
      "scrypt$32768$8$1",
      `scrypt$32768$8$1$${salt}`,
      `scrypt$32768$8$1$${salt}$`,
      `bcrypt$32768$8$1$${salt}$${hash}`,
      `scrypt$32768$8$1$${salt}$${hash.slice(0, 20)}`,
      `scrypt$32768$8$1$${salt}$${Buffer.alloc(32).toString("base64")}`,
      `scrypt$32768$8$1$${Buffer.alloc(16).toString("base64")}$${hash}`,
      // Parameters scrypt itself refuses: these used to throw (a 500 at sign-in) instead of answering false.
      `scrypt$abc$8$1$${salt}$${hash}`,
      `scrypt$3$8$1$${salt}$${hash}`,
      `scrypt$32768$x$1$${salt}$${hash}`,
    ];
    for (const candidate of malformed) {
      assert.equal(await verifyPassword(password, candidate), false, JSON.stringify(candidate));
    }
  });

  it("verifies a hash made with other parameters, which are read from the hash itself", async () => {
    // Fixed vector: scrypt("legacy-password", salt 16×0x01, N=1024, r=8, p=1, 32 bytes).
    const salt = Buffer.alloc(16, 1);
    const key = scryptSync("legacy-password", salt, 32, { N: 1024, r: 8, p: 1 });
    const legacy = ["scrypt", 1024, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
    assert.equal(await verifyPassword("legacy-password", legacy), true);
    assert.equal(await verifyPassword("other-password", legacy), false);
    assert.equal(needsRehash(legacy), true);
  });

  it("needsRehash is false for a fresh hash and true when any parameter differs", () => {
    assert.equal(needsRehash(stored), false);
    const [, , , , salt = "", hash = ""] = stored.split("$");
    for (const [n, r, p] of [
      [16384, 8, 1],
      [65536, 8, 1],
      [32768, 16, 1],
      [32768, 8, 2],
    ]) {
      assert.equal(needsRehash(`scrypt$${n}$${r}$${p}$${salt}$${hash}`), true, `${n}/${r}/${p}`);
    }
    assert.equal(needsRehash(UNUSABLE_PASSWORD_HASH), true);
  });

  describe("a burst of sign-ins", () => {
    it("leaves libuv's pool threads for the rest: a token checked behind twelve hashes is checked first", async () => {
      // jose checks a token with WebCrypto's HMAC, on the pool scrypt runs on (as are the database driver's
      // SCRAM handshake, file access and compression); a hash takes about 200 ms, an HMAC microseconds.
      const settings = testConfig().auth;
      const token = await issueAccessToken({ userId: "00000000-0000-4000-8000-000000000001" }, settings);
      const finished: string[] = [];
      const signIns = Array.from({ length: 12 }, (_, index) =>
        verifyPassword(password, stored).then((matches) => {
          assert.equal(matches, true);
          finished.push(`sign-in ${index}`);
        }),
      );
      const check = verifyAccessToken(token, settings).then(() => finished.push("token check"));
      await Promise.all([...signIns, check]);
      assert.equal(finished[0], "token check", finished.join(", "));
      assert.equal(finished.length, 13);
    });

    it("lets a sign-in through a bulk hashing (an import) after one of its hashes, not after all", async () => {
      const finished: string[] = [];
      const bulk = hashPasswords(Array.from({ length: 10 }, (_, index) => `imported-password-${index}`)).then(
        (hashes) => {
          finished.push("bulk");
          return hashes;
        },
      );
      const signIn = verifyPassword(password, stored).then((matches) => finished.push(`sign-in ${matches}`));
      const [hashes] = await Promise.all([bulk, signIn]);
      assert.deepEqual(finished, ["sign-in true", "bulk"]);
      assert.equal(new Set(hashes).size, 10);
      assert.equal(await verifyPassword("imported-password-7", hashes[7] ?? ""), true, "in the passwords' order");
    });

    it("frees the slot of a hash that fails, so later sign-ins still run", async () => {
      // N=3 is not a power of two: scrypt refuses it, and verifyPassword answers false.
      const refused = stored.replace(/^scrypt\$32768\$/, "scrypt$3$");
      const failures = await Promise.all(Array.from({ length: 8 }, () => verifyPassword(password, refused)));
      assert.deepEqual(failures, Array<boolean>(8).fill(false));
      assert.equal(await verifyPassword(password, stored), true);
    });
  });
});
