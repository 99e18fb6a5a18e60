"""The hook's endpoint methods, one group per Intercom resource; the hook mixes them all in."""
