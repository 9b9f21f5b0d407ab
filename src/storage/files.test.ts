import assert from "node:assert/strict";
import { gifFile } from "../testing/files.js";
import { randomFileName, sniffKind, storedNamePattern } from "./files.js";

const riff = (format: string) =>
  Buffer.concat([Buffer.from("RIFF"), Buffer.from([0x24, 0x00, 0x00, 0x00]), Buffer.from(format), Buffer.alloc(8)]);

describe("sniffKind (src/storage/files.ts)", () => {
  it("knows a WebP image by RIFF with WEBP at byte 8, and stores it under .webp", () => {
    assert.equal(sniffKind(riff("WEBP")), "webp");
    assert.match(randomFileName("webp"), storedNamePattern);
    assert.ok(randomFileName("webp").endsWith(".webp"));
  });

  it("refuses a RIFF file of another format (a WAVE sound), which is binary and no stored kind", () => {
    assert.equal(sniffKind(riff("WAVE")), undefined);
  });

  it("refuses a RIFF header cut short before its format, and an empty file", () => {
    assert.equal(sniffKind(Buffer.from([0x52, 0x49, 0x46, 0x46, 0x00, 0x00, 0x00, 0x00, 0x57])), undefined);
    assert.equal(sniffKind(Buffer.alloc(0)), undefined);
  });

  it("refuses bytes that are not UTF-8 even with a cut character allowed for at the end", () => {
    assert.equal(sniffKind(Buffer.from([0x61, 0x62, 0xff, 0xfe, 0x63, 0x64, 0x65, 0x66])), undefined);
    // A two-byte character cut after its first byte is still text: the head is only the first 512 bytes.
    assert.equal(sniffKind(Buffer.from([0x61, 0x62, 0xd0])), "text");
  });

  it("knows a GIF of either version, 87a or 89a, and refuses one of another version", () => {
    const version = (bytes: string) => Buffer.concat([Buffer.from(`GIF${bytes}`, "latin1"), gifFile().subarray(6)]);
    assert.equal(sniffKind(gifFile()), "gif");
    assert.equal(sniffKind(version("87a")), "gif");
    // The rest of the file is binary (NUL bytes), so a wrong version leaves no kind at all.
    assert.equal(sniffKind(version("88a")), undefined);
    assert.equal(sniffKind(version("89b")), undefined);
  });

  it("knows a PDF by %PDF- before taking its text for plain text, and stores it under .pdf", () => {
    assert.equal(sniffKind(Buffer.from("%PDF-1.7\n%proof\n")), "pdf");
    assert.equal(sniffKind(Buffer.from("%PDF is how a PDF starts\n")), "text");
    assert.ok(randomFileName("pdf").endsWith(".pdf"));
  });
});
