// The actor's command line (no sockets here: the actor's probes and C2 run inside lab namespaces in verify.test.ts).
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseActorArgs, runActor } from "./actor.js";

describe("parseActorArgs", () => {
  it("splits positionals from --name value options", () => {
    const { positional, options } = parseActorArgs(["192.0.2.1", "22", "--from-port", "4444", "--send", "hi"]);
    expect(positional).toEqual(["192.0.2.1", "22"]);
    expect([...options]).toEqual([
      ["from-port", "4444"],
      ["send", "hi"],
    ]);
  });

  it("keeps a trailing --flag without a value as a positional", () => {
    expect(parseActorArgs(["x", "--wait"]).positional).toEqual(["x", "--wait"]);
  });

  test.prop([
    fc.array(fc.stringMatching(/^[a-z0-9.:]{1,12}$/), { maxLength: 4 }),
    fc.dictionary(fc.stringMatching(/^[a-z][a-z-]{0,8}$/), fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxKeys: 4 }),
  ])("round-trips any positionals followed by options", (positional, opts) => {
    const argv = [...positional, ...Object.entries(opts).flatMap(([k, v]) => [`--${k}`, v])];
    const parsed = parseActorArgs(argv);
    expect(parsed.positional).toEqual(positional);
    expect(Object.fromEntries(parsed.options)).toEqual(opts);
  });
});

describe("runActor", () => {
  it("rejects an unknown sub-command or a bad port with exit 2 and prints nothing", async () => {
    const printed: string[] = [];
    const warned: string[] = [];
    const print = (l: string): void => void printed.push(l);
    const warn = (l: string): void => void warned.push(l);
    expect(await runActor(["frobnicate"], print, warn)).toBe(2);
    expect(await runActor(["tcp-connect", "192.0.2.1", "70000"], print, warn)).toBe(2);
    expect(await runActor(["poll-c2", "192.0.2.1", "443"], print, warn)).toBe(2);
    expect(printed).toEqual([]);
    expect(warned).toHaveLength(3);
    expect(warned[0]).toMatch(/^usage: actor/);
  });
});
