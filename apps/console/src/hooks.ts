import { useCallback, useEffect, useState } from 'react';

/**
 * What a page shows after a change: the sentence announced (a live region reads it out) and a
 * version that moves with each change, on which the page's lists are read again.
 */
export function useChanges(): { announcement: string; version: number; changed: (message: string) => void } {
  const [announcement, setAnnouncement] = useState('');
  const [version, setVersion] = useState(0);
  const changed = useCallback((message: string) => {
    setAnnouncement(message);
    setVersion((v) => v + 1);
  }, []);
  return { announcement, version, changed };
}

/**
 * `read` (a useCallback of the page's API call) run at once, and again whenever it changes or
 * `version` moves: its last answer, or the error it threw (null once a read succeeds).
 */
export function useRead<T>(read: () => Promise<T>, version: number): { data: T | null; error: unknown } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let current = true;
    read().then(
      (answer) => {
        if (!current) return;
        setData(answer);
        setError(null);
      },
      (failure) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [read, version]);
  return { data, error };
}
