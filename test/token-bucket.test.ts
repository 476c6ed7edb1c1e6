import { test } from "uvu";
import * as assert from "uvu/assert";
import { DomainError } from "../src/domain/errors.js";
import { ClientBudgets, TokenBucket } from "../src/domain/token-bucket.js";

const refusal = (f: () => void): DomainError | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  return undefined;
};

test("a bucket lets its burst through at once, then its rate", () => {
  const b = new TokenBucket(100, 100, 0);
  assert.is(b.take(60, 0), 0);
  assert.is(b.take(40, 0), 0);
  // Empty: 10 tokens take 100 ms to come back at 100 a second.
  assert.is(b.take(10, 0), 100);
  assert.is(b.take(10, 50), 50);
  assert.is(b.take(10, 100), 0);
});

test("a refused take costs nothing, and a refund gives tokens back up to the burst", () => {
  const b = new TokenBucket(100, 100, 0);
  assert.is(b.take(100, 0), 0);
  for (let i = 0; i < 5; i++) assert.ok(b.take(50, 0) > 0);
  b.refund(30);
  assert.is(b.take(30, 0), 0);
  b.refund(1_000);
  assert.ok(b.isFull(0));
  assert.is(b.take(100, 0), 0);
});

test("a request larger than the bucket passes when it is full, and the debt is paid at the rate", () => {
  const b = new TokenBucket(100, 100, 0);
  assert.is(b.take(250, 0), 0);
  // 150 of debt and 100 to fill up again: 2.5 s.
  assert.is(b.take(250, 0), 2_500);
  assert.is(b.take(250, 2_500), 0);
});

test("over a long run a client gets its rate, whatever the size of its calls", () => {
  const b = new TokenBucket(1_000, 1_000, 0);
  let granted = 0;
  for (let t = 0; t <= 10_000; t += 7) if (b.take(333, t) === 0) granted += 333;
  // 10 s at 1000 a second, plus the first burst; never more.
  assert.ok(granted <= 11_000 && granted >= 10_000, String(granted));
});

test("clients have budgets of their own: one over its share does not touch another's", () => {
  // 1000 a second, saving up a quarter second's worth.
  const budgets = new ClientBudgets(1_000);
  budgets.take("flood", 1_000, undefined, 0);
  const err = refusal(() => budgets.take("flood", 500, undefined, 0));
  assert.is(err?.kind, "resource_exhausted");
  // 750 in debt, and 250 to save up before a batch of 500 fits again.
  assert.is(err?.retryAfterMs, 1_000);
  assert.is(refusal(() => budgets.refuseIfSpent("flood", undefined, 0))?.retryAfterMs, 751);
  assert.is(
    refusal(() => budgets.take("steady", 1_000, undefined, 0)),
    undefined,
  );
});

test("a client's own figure overrides the default; 0 means no limit", () => {
  const budgets = new ClientBudgets(100);
  assert.is(
    refusal(() => budgets.take("big", 5_000, 10_000, 0)),
    undefined,
  );
  assert.ok(refusal(() => budgets.take("small", 101, 50, 0)) === undefined, "a full bucket lets one large call in");
  assert.is(refusal(() => budgets.take("small", 1, 50, 0))?.kind, "resource_exhausted");
  for (let i = 0; i < 10; i++)
    assert.is(
      refusal(() => budgets.take("free", 1e6, 0, 0)),
      undefined,
    );
  const unlimited = new ClientBudgets(0);
  for (let i = 0; i < 10; i++)
    assert.is(
      refusal(() => unlimited.take("any", 1e6, undefined, 0)),
      undefined,
    );
  assert.is(unlimited.size, 0);
});

test("a changed rate applies from the next call on", () => {
  // 100 a second, saving up 25.
  const budgets = new ClientBudgets(100);
  budgets.take("c", 25, undefined, 0);
  assert.ok(refusal(() => budgets.take("c", 25, undefined, 100)));
  // Raised to 1000 a second at 100 ms, when the old rate had refilled 10: a quarter second later it holds 250.
  budgets.take("c", 10, 1_000, 100);
  budgets.take("c", 250, 1_000, 350);
  assert.ok(refusal(() => budgets.take("c", 1, 1_000, 350)));
});

test("a client with nothing left is refused before its batch is read; one with anything left is not", () => {
  const budgets = new ClientBudgets(100);
  assert.is(
    refusal(() => budgets.refuseIfSpent("new", undefined, 0)),
    undefined,
  );
  budgets.take("c", 25, undefined, 0);
  assert.is(refusal(() => budgets.refuseIfSpent("c", undefined, 0))?.retryAfterMs, 10);
  assert.is(
    refusal(() => budgets.refuseIfSpent("c", undefined, 10)),
    undefined,
  );
  // With a figure of its own of 0, never.
  assert.is(
    refusal(() => budgets.refuseIfSpent("c", 0, 0)),
    undefined,
  );
});

test("buckets of clients that went quiet are dropped", () => {
  const budgets = new ClientBudgets(100);
  for (let i = 0; i < 1_000; i++) budgets.take(`peer-${i}`, 10, undefined, 0);
  assert.is(budgets.size, 1_000);
  budgets.take("late", 10, undefined, 60_000);
  assert.is(budgets.size, 1);
});

test.run();
