// The sign-in throttle's rule, as plain data in and out. Both stores run it inside the
// transaction that reads and writes the two counters, so checking and counting an attempt
// are one atomic step (no read-then-write race between parallel guesses or instances).
//
// - email + client address: after `maxPerAddress` attempts in the window, that address is
//   locked out of that email until the window ends;
// - email alone: past `emailCeiling` attempts in the window (from anywhere), attempts are
//   slowed to one every `slowSeconds`, never locked: someone guessing from many addresses
//   cannot lock the owner out.

export type AttemptCounter = { windowStart: number; attempts: number; lastAt: number }
export type SigninLimits = { windowSeconds: number; maxPerAddress: number; emailCeiling: number; slowSeconds: number }
export type SigninBuckets = { address: string; email: string }
export type SigninVerdict = { allowed: true } | { allowed: false; reason: 'locked' | 'slowed'; retryAfter: number }

function current(counter: AttemptCounter | undefined, now: number, windowSeconds: number): AttemptCounter {
  if (counter && counter.windowStart > now - windowSeconds) return counter
  return { windowStart: now, attempts: 0, lastAt: 0 }
}

export function judgeAttempt(
  address: AttemptCounter | undefined,
  email: AttemptCounter | undefined,
  now: number,
  limits: SigninLimits,
): { verdict: SigninVerdict; next?: { address: AttemptCounter; email: AttemptCounter } } {
  const a = current(address, now, limits.windowSeconds)
  const e = current(email, now, limits.windowSeconds)
  if (a.attempts >= limits.maxPerAddress) {
    return {
      verdict: {
        allowed: false,
        reason: 'locked',
        retryAfter: Math.max(1, a.windowStart + limits.windowSeconds - now),
      },
    }
  }
  if (e.attempts >= limits.emailCeiling && now - e.lastAt < limits.slowSeconds) {
    return {
      verdict: { allowed: false, reason: 'slowed', retryAfter: Math.max(1, e.lastAt + limits.slowSeconds - now) },
    }
  }
  return {
    verdict: { allowed: true },
    next: {
      address: { ...a, attempts: a.attempts + 1, lastAt: now },
      email: { ...e, attempts: e.attempts + 1, lastAt: now },
    },
  }
}
