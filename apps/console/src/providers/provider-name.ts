/**
 * The service's rule for a provider key's name (provider-key.rules.ts), as checks shown while it is
 * typed: 1-100 lowercase letters, digits, hyphens and periods, and nothing that looks like a key.
 */
export function providerNameChecks(name: string): { label: string; ok: boolean }[] {
  const segments = name.split(/[.-]/);
  return [
    { label: '1 to 100 characters', ok: name.length >= 1 && name.length <= 100 },
    { label: 'only lowercase letters, digits, hyphens and periods', ok: name.length > 0 && /^[a-z0-9.-]*$/.test(name) },
    { label: 'does not start with sk-', ok: !name.startsWith('sk-') },
    { label: 'no run of 24 or more letters and digits mixed (it would look like a key)', ok: !segments.some((s) => /^(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[a-z0-9]{24}/.test(s)) },
  ];
}
