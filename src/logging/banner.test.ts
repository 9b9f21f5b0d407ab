import assert from "node:assert/strict";
import { formatBanner, withoutPassword, type BootFacts } from "./banner.js";

const facts = (overrides: Partial<BootFacts> = {}): BootFacts => ({
  version: "1.2.3",
  env: "development",
  url: "http://127.0.0.1:3000",
  database: { embedded: true, dataDir: "/srv/shtp/storage/postgres" },
  signIn: { kind: "no-users" },
  judge: "1 in-process slot (uid 60000); more: npm run judge",
  ...overrides,
});

describe("the boot banner (src/logging/banner.ts)", () => {
  it("names the docs, the API, the database inside the working folder, the judge and how to stop", () => {
    const banner = formatBanner(facts(), "/srv/shtp");
    assert.match(banner, /ShTP API 1\.2\.3 is ready \(development\)/);
    assert.match(banner, /^ {2}Docs {6}http:\/\/127\.0\.0\.1:3000\/api\/docs$/m);
    assert.match(banner, /^ {2}API {7}http:\/\/127\.0\.0\.1:3000\/api\/v1$/m);
    assert.match(banner, /^ {2}Database {2}embedded PostgreSQL, data in storage\/postgres$/m);
    assert.match(banner, /^ {2}Judge {5}1 in-process slot \(uid 60000\); more: npm run judge$/m);
    assert.match(banner, /^ {2}Stop {6}Ctrl-C$/m);
    assert.ok(banner.split("\n").length <= 16, "short");
  });

  it("shows a data folder outside the working folder as it is", () => {
    assert.match(formatBanner(facts(), "/home/someone"), /data in \/srv\/shtp\/storage\/postgres$/m);
  });

  it("shows a database URL without its password", () => {
    const banner = formatBanner(
      facts({ database: { embedded: false, url: "postgres://shtp:s3cret@db.internal:5432/shtp?sslmode=require" } }),
    );
    assert.match(banner, /^ {2}Database {2}postgres:\/\/shtp@db\.internal:5432\/shtp\?sslmode=require$/m);
    assert.ok(!banner.includes("s3cret"));
  });

  it("lists the demo accounts with their passwords in aligned columns, and says when they were created", () => {
    const accounts = [
      { email: "admin@demo.shtp.local", password: "demo-admin-pass", role: "admin" },
      { email: "student1@demo.shtp.local", password: "demo-student-pass", role: "student" },
    ];
    const now = formatBanner(facts({ signIn: { kind: "demo", createdNow: true, accounts } }));
    assert.match(
      now,
      /Sign in {3}POST \/api\/v1\/auth\/login, or "Authorize" in the docs, with a demo account \(created just now\):/,
    );
    assert.match(now, /^ {14}admin@demo\.shtp\.local {5}demo-admin-pass {4}admin$/m);
    assert.match(now, /^ {14}student1@demo\.shtp\.local {2}demo-student-pass {2}student$/m);
    const later = formatBanner(facts({ signIn: { kind: "demo", createdNow: false, accounts } }));
    assert.ok(!later.includes("created just now"));
    assert.match(later, /demo-admin-pass/);
  });

  it("says how to sign in when there are no demo accounts", () => {
    assert.match(
      formatBanner(facts({ signIn: { kind: "initial-admin", email: "head@school.example" } })),
      /Sign in {3}as head@school\.example, created just now with INITIAL_ADMIN_PASSWORD/,
    );
    assert.match(
      formatBanner(facts({ signIn: { kind: "no-users" } })),
      /set INITIAL_ADMIN_EMAIL and INITIAL_ADMIN_PASSWORD/,
    );
    assert.match(formatBanner(facts({ signIn: { kind: "existing-users" } })), /with an account of this database/);
  });

  it("withoutPassword keeps everything but the password, and gives nothing of an unparsable URL", () => {
    assert.equal(withoutPassword("postgres://a:b@h:1/d"), "postgres://a@h:1/d");
    assert.equal(withoutPassword("postgres://a@h/d"), "postgres://a@h/d");
    assert.equal(withoutPassword("not a url with secret"), "(an unparsable URL)");
  });
});
