select s.occurrence_id, null::uuid as user_id, v.address
from src s
cross join (values ('https://hooks.example.test/orders')) as v(address)
