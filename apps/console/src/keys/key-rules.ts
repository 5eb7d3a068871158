import type { KeyView } from '../api';
import type { Role } from '../session';

/** The tabs a role sees, as the control panel shows them; auditors read the team's keys and change nothing. */
export function tabsFor(role: Role): { id: KeyView; label: string }[] {
  const mine = { id: 'mine' as const, label: 'My keys' };
  const legacy = { id: 'legacy' as const, label: 'Legacy keys' };
  const team = { id: 'team' as const, label: "Team's keys" };
  if (role === 'owner') return [mine, legacy, team];
  if (role === 'auditor') return [team, legacy];
  return [mine, legacy];
}

/** Model ids as typed: one per line or separated by commas, blanks and repeats dropped. */
export function parseModels(text: string): string[] {
  return [...new Set(text.split(/[\n,]/).map((m) => m.trim()).filter((m) => m.length > 0))];
}
