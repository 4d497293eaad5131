import { describe, expect, it } from "vitest";
import { safeLines, safeText } from "../../src/util/terminal.js";

describe("safeText", () => {
  it("shows colour, title-setting and bidi sequences instead of obeying them", () => {
    expect(safeText("bob\u001b[31mred\u001b]0;pwned\u0007")).toBe("bob\\x1b[31mred\\x1b]0;pwned\\x07");
    expect(safeText("admin\u202egnp.exe")).toBe("admin\\u202egnp.exe");
    expect(safeText("a\nb\tc\u009b")).toBe("a\\x0ab\\x09c\\x9b");
    expect(safeText("alice.o'brien+ci@example.com")).toBe("alice.o'brien+ci@example.com");
  });
  it("keeps line breaks in multi-line text", () => {
    expect(safeLines("one\ntwo\u001b[2J")).toBe("one\ntwo\\x1b[2J");
  });
});
