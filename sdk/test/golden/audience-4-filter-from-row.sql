select s.occurrence_id, u.id::uuid as user_id, null::text as address
from src s
join public.profiles u on u.is_admin = true
  and u.region = (s.r).region
where u.id is not null
