/** Never, Expired (the instant has passed), or the date and time it ends (a date means 00:00 UTC). */
export function expiryLabel(expiresAt: string | null, now = Date.now()): string {
  if (expiresAt === null) return 'Never';
  if (Date.parse(expiresAt) <= now) return 'Expired';
  return `${expiresAt.slice(0, 10)} ${expiresAt.slice(11, 16)} UTC`;
}
