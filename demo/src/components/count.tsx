/**
 * A live count on screen: the value of one counter from the SDK's counter store, in an element marked
 * `data-counter="<name>"` (how the end-to-end tests find it). The store is the one source of counts:
 * no page computes them from its own lists.
 */
import { useCounter } from '@supadispatch/react';
import type { ReactElement } from 'react';
import type { CounterName } from '../dispatch.ts';

export function Count({ name, className }: { name: CounterName; className?: string }): ReactElement {
  const value = useCounter(name);
  return (
    <span className={className ? `count ${className}` : 'count'} data-counter={name}>
      {value}
    </span>
  );
}
