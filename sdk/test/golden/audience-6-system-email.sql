select s.occurrence_id, null::uuid as user_id, v.address
from src s
cross join (values ('ops@shop.example')) as v(address)
