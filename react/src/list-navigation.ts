/**
 * Keyboard navigation of a list by a roving tab stop: one item is in the tab order, the arrow keys
 * (and Home, End) move focus between items. Headless: it gives props to spread on the items'
 * focusable elements.
 */
import { type KeyboardEvent, useCallback, useRef, useState } from 'react';

/** Props for the focusable element of item `index`. */
export interface NavigableItemProps {
  ref: (element: HTMLElement | null) => void;
  tabIndex: 0 | -1;
  onFocus: () => void;
  onKeyDown: (event: KeyboardEvent<HTMLElement>) => void;
}

/** What {@link useListNavigation} gives. */
export interface ListNavigation {
  /** The item in the tab order (the last one focused), within the list's bounds. */
  activeIndex: number;
  itemProps(index: number): NavigableItemProps;
  /** Focuses the active item; false when the list is empty. */
  focusActive(): boolean;
}

const moves: Record<string, (index: number, count: number) => number> = {
  ArrowDown: (i) => i + 1,
  ArrowUp: (i) => i - 1,
  Home: () => 0,
  End: (_, count) => count - 1,
};

/** Roving focus over `count` items. */
export function useListNavigation(count: number): ListNavigation {
  const [active, setActive] = useState(0);
  const elements = useRef<(HTMLElement | null)[]>([]);
  const activeIndex = Math.max(0, Math.min(active, count - 1));
  const focus = useCallback((index: number) => {
    const element = elements.current[index];
    element?.focus();
    return Boolean(element);
  }, []);
  const itemProps = (index: number): NavigableItemProps => ({
    ref: (element) => {
      elements.current[index] = element;
    },
    tabIndex: index === activeIndex ? 0 : -1,
    onFocus: () => setActive(index),
    onKeyDown: (event) => {
      const move = moves[event.key];
      if (!move || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      const next = Math.max(0, Math.min(move(index, count), count - 1));
      setActive(next);
      focus(next);
    },
  });
  return { activeIndex, itemProps, focusActive: () => focus(activeIndex) };
}
