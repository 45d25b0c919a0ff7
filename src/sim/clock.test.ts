import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { EventClock } from "./clock.js";

describe("EventClock", () => {
  it("runs events in time order, equal times in scheduling order, and advances now", () => {
    const clock = new EventClock();
    const seen: string[] = [];
    clock.at(5, () => seen.push(`b@${clock.now}`));
    clock.at(1, () => seen.push(`a@${clock.now}`));
    clock.at(5, () => seen.push(`c@${clock.now}`));
    clock.after(5, () => {
      seen.push(`d@${clock.now}`);
      clock.after(0, () => seen.push(`e@${clock.now}`));
    });
    expect(clock.run()).toEqual({ stoppedBy: "idle", events: 5, now: 5 });
    expect(seen).toEqual(["a@1", "b@5", "c@5", "d@5", "e@5"]);
  });

  it("stops at `until` (leaving later events pending) and at maxEvents", () => {
    const clock = new EventClock();
    const seen: number[] = [];
    for (const t of [10, 20, 30]) clock.at(t, () => seen.push(t));
    expect(clock.run({ until: 25 })).toEqual({ stoppedBy: "until", events: 2, now: 25 });
    expect(clock.pending).toBe(1);
    clock.at(3, () => seen.push(3)); // in the past: runs now, never earlier
    expect(clock.run({ maxEvents: 1 })).toEqual({ stoppedBy: "max-events", events: 1, now: 25 });
    expect(clock.run({ until: 100 })).toEqual({ stoppedBy: "idle", events: 1, now: 100 });
    expect(seen).toEqual([10, 20, 3, 30]);
  });

  test.prop([fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 300 })])(
    "matches a stable sort by time, including events scheduled while running",
    (specs) => {
      const clock = new EventClock();
      const order: number[] = [];
      const expected: { t: number; id: number }[] = [];
      let next = 0;
      for (const [t, spawn] of specs) {
        const id = next++;
        expected.push({ t, id });
        clock.at(t, () => {
          order.push(id);
          if (spawn) {
            const child = next++;
            expected.push({ t: t + 7, id: child });
            clock.after(7, () => order.push(child));
          }
        });
      }
      clock.run();
      // Children are scheduled later than every initial event, so at equal times they sort after them by id.
      const want = [...expected].sort((a, b) => a.t - b.t || a.id - b.id).map((e) => e.id);
      expect(order).toEqual(want);
    },
  );
});
