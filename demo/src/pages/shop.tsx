/**
 * /shop: the products, each with "Order". Placing an order is one insert; the database's triggers do
 * the rest in the same transaction (the buyer's email, the seller's bell, the webhook, the counts).
 */
import { type ReactElement, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useUserId } from '../auth/session.tsx';
import { Count } from '../components/count.tsx';
import { Empty, ErrorNote, Loading, PageHeader, SuccessNote } from '../components/ui.tsx';
import { formatPrice } from '../lib/format.ts';
import { type Product, usePlaceOrder, useProducts } from '../lib/orders.ts';

export function Shop(): ReactElement {
  const userId = useUserId();
  const products = useProducts();
  const place = usePlaceOrder(userId);
  const [placed, setPlaced] = useState<string | null>(null);
  const [params] = useSearchParams();

  const order = (product: Product) => {
    setPlaced(null);
    place.mutate(product, { onSuccess: ({ product }) => setPlaced(product.name) });
  };

  return (
    <>
      <PageHeader title="Shop">
        You have <Count name="my_open_orders" /> open orders. <Link to="/orders">See my orders</Link>
      </PageHeader>
      {params.get('password') === 'changed' && <SuccessNote>Your new password is saved.</SuccessNote>}
      {placed && (
        <SuccessNote>
          Order placed: <strong>{placed}</strong>. A confirmation email is on its way.
        </SuccessNote>
      )}
      <ErrorNote error={place.error} title="Could not place the order." />
      <ErrorNote error={products.error} />
      {products.isPending && <Loading what="products" />}
      {products.data?.length === 0 && <Empty>No products yet.</Empty>}
      <ul className="product-grid">
        {products.data?.map((product) => {
          const own = product.seller_id === userId;
          return (
            <li key={product.id} className="card product">
              <h2 className="product__name">{product.name}</h2>
              <p className="product__seller">
                {own ? 'Your product' : `Sold by ${product.seller?.display_name ?? 'a seller'}`}
              </p>
              <div className="product__footer">
                <span className="product__price">{formatPrice(product.price_cents)}</span>
                <button
                  type="button"
                  className="button button--primary"
                  aria-label={`Order ${product.name}`}
                  disabled={own || (place.isPending && place.variables?.id === product.id)}
                  onClick={() => order(product)}
                >
                  Order
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </>
  );
}
