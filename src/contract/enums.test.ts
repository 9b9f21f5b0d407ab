import assert from "node:assert/strict";
import { storedNameOf } from "./enums.js";

describe("storedNameOf (src/contract/enums.ts)", () => {
  enum Shade {
    SHADE_UNSPECIFIED = 0,
    SHADE_LIGHT = 1,
    SHADE_DARK = 2,
  }
  const stored = { light: Shade.SHADE_LIGHT, dark: Shade.SHADE_DARK } as const;

  it("answers the stored name of each value the table maps", () => {
    assert.equal(storedNameOf(stored, Shade.SHADE_LIGHT), "light");
    assert.equal(storedNameOf(stored, Shade.SHADE_DARK), "dark");
  });

  it("throws for a value the table lacks, rather than storing a wrong name", () => {
    assert.throws(() => storedNameOf<keyof typeof stored, Shade>(stored, Shade.SHADE_UNSPECIFIED), {
      name: "Error",
      message: "No stored name for 0",
    });
  });
});
