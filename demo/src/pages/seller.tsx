/**
 * /seller: orders of the signed-in seller's products. "Mark paid", "Ship" and "Cancel" change the order's status;
 * the triggers tell the buyer (in-app at once, email after the configured delay).
 */
import type { ReactElement } from 'react';
import { useUserId } from '../auth/session.tsx';
import { Count } from '../components/count.tsx';
import { Empty, ErrorNote, Loading, PageHeader, StatusPill } from '../components/ui.tsx';
import { formatDateTime, formatPrice, shortId } from '../lib/format.ts';
import { openStatuses, useSellerOrders, useSetOrderStatus } from '../lib/orders.ts';

export function Seller(): ReactElement {
  const userId = useUserId();
  const orders = useSellerOrders(userId);
  const setStatus = useSetOrderStatus();
  const busy = (id: string) => setStatus.isPending && setStatus.variables?.order.id === id;
  return (
    <>
      <PageHeader title="Seller dashboard">
        <Count name="seller_open_orders" /> open orders of your products to ship.
      </PageHeader>
      <ErrorNote error={setStatus.error} title="Could not change the order." />
      <ErrorNote error={orders.error} />
      {orders.isPending && <Loading what="orders" />}
      {orders.data?.length === 0 && <Empty>No orders of your products yet.</Empty>}
      {orders.data && orders.data.length > 0 && (
        <div className="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Product</th>
                <th scope="col">Buyer</th>
                <th scope="col" className="num">
                  Price
                </th>
                <th scope="col">Region</th>
                <th scope="col">Status</th>
                <th scope="col">Placed</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.data.map((o) => {
                const open = openStatuses.includes(o.status);
                return (
                  <tr key={o.id} data-order-id={o.id}>
                    <td className="mono">#{o.number}</td>
                    <td>{o.product?.name ?? '—'}</td>
                    <td>{o.buyer?.display_name ?? o.buyer?.email ?? shortId(o.buyer_id)}</td>
                    <td className="num">{o.product ? formatPrice(o.product.price_cents) : ''}</td>
                    <td className="capitalize">{o.region ?? ''}</td>
                    <td>
                      <StatusPill status={o.status} />
                    </td>
                    <td>{formatDateTime(o.created_at)}</td>
                    <td className="actions">
                      {o.status === 'pending' && (
                        <button
                          type="button"
                          className="button button--small"
                          disabled={busy(o.id)}
                          onClick={() => setStatus.mutate({ order: o, status: 'paid' })}
                        >
                          Mark paid
                        </button>
                      )}
                      {open && (
                        <>
                          <button
                            type="button"
                            className="button button--primary button--small"
                            disabled={busy(o.id)}
                            onClick={() => setStatus.mutate({ order: o, status: 'shipped' })}
                          >
                            Ship
                          </button>
                          <button
                            type="button"
                            className="button button--danger button--small"
                            disabled={busy(o.id)}
                            onClick={() => setStatus.mutate({ order: o, status: 'cancelled' })}
                          >
                            Cancel
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
