select s.occurrence_id, h1.seller_id::uuid as user_id, null::text as address
from src s
join public.products h1 on h1.id = (s.r).product_id
where h1.seller_id is not null
