// The `--to NODE:PORT/PROTO` parser and its printer: round trips for every valid target, null (never a throw)
// for anything else.
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatTarget, parseTarget } from "./attack.js";

const node = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);

describe("parseTarget", () => {
  it("reads NODE:PORT/PROTO, defaulting to tcp", () => {
    expect(parseTarget("s:161/udp")).toEqual({ node: "s", port: 161, proto: "udp" });
    expect(parseTarget("s:22")).toEqual({ node: "s", port: 22, proto: "tcp" });
    for (const bad of ["s", "s:0", "s:65536", ":22", "s:22/icmp", "s:22/tcp/x", "s :22"])
      expect(parseTarget(bad)).toBeNull();
  });

  test.prop([node, fc.integer({ min: 1, max: 65535 }), fc.constantFrom("tcp" as const, "udp" as const)])(
    "round-trips formatTarget",
    (n, port, proto) => {
      expect(parseTarget(formatTarget({ node: n, port, proto }))).toEqual({ node: n, port, proto });
    },
  );

  test.prop([fc.string()])("returns a target or null for any text, and what it returns prints back", (s) => {
    const t = parseTarget(s);
    if (t !== null) expect(parseTarget(formatTarget(t))).toEqual(t);
  });
});
