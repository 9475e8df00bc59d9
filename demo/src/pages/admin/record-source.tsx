/**
 * Which row an admin page renders or fires an event for: a recent order from a picker, or the id of
 * a row of another table typed in.
 */
import type { ReactElement } from 'react';
import { OrderPicker } from '../../components/order-picker.tsx';
import type { Order } from '../../lib/orders.ts';

/** `public.orders` and `orders` are the orders table. */
export const isOrdersTable = (table: string | null) => table === 'orders' || table === 'public.orders';

export function RecordSource({
  table,
  orders,
  value,
  onChange,
}: {
  table: string;
  orders: readonly Order[];
  value: string;
  onChange: (id: string) => void;
}): ReactElement {
  if (isOrdersTable(table)) return <OrderPicker orders={orders} value={value} onChange={onChange} />;
  return (
    <label>
      Row id of {table}
      <input value={value} onChange={(e) => onChange(e.target.value.trim())} placeholder="id" />
    </label>
  );
}
