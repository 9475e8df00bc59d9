-- supadispatch core, security review: M3: dispatch.render substitutes in one pass (inserted values are never scanned again) and caps
-- its output at the setting render_max_length (truncated, with a marker).
begin;
create extension if not exists pgtap;
select plan(12);

select is(dispatch.render('{{a}} {{b}}', jsonb_build_object('a', repeat('{{b}}', 2000), 'b', repeat('x', 10000))),
  repeat('{{b}}', 2000) || ' ' || repeat('x', 10000), 'render does not substitute inside inserted values (no blow-up)');
select ok(length(dispatch.render('{{a}} {{b}}', jsonb_build_object('a', repeat('{{b}}', 20000), 'b', repeat('x', 10000)))) <= 100000,
  'render of the review''s 200 MB case stays within the cap');
select is(dispatch.render('{{a}}|{{b}}', '{"a": "{{b}}", "b": "secret"}'), '{{b}}|secret',
  'render: a value cannot pull in another field');
select is(dispatch.render('Order #{{number}} for {{ customer.name }}, {{number}}{{missing}}!', '{"number": 42, "customer": {"name": "Ada"}}'),
  'Order #42 for Ada, 42!', 'render: columns, paths, repeats, missing values');
select is(dispatch.render('no placeholders', '{}'), 'no placeholders', 'render: a template without placeholders');
select is(dispatch.render('{{a}}', null), '', 'render: null record');
select is(dispatch.render(null, '{}'), null, 'render: null template');
select is(dispatch.render('{{a}}{{b}}', '{"a":"", "b":"x"}'), 'x', 'render: adjacent placeholders');
select is((select value from dispatch.settings where key = 'render_max_length'), '100000'::jsonb,
  'render_max_length defaults to 100000 characters');
select is(length(dispatch.render('{{a}}{{a}}', jsonb_build_object('a', repeat('y', 60000)))), 100000,
  'render output is capped at render_max_length');
select is(right(dispatch.render('{{a}}{{a}}', jsonb_build_object('a', repeat('y', 60000))), 12), ' [truncated]'::text,
  'a capped render ends with a truncation marker');
select dispatch.set_setting('render_max_length', '20');
select is(dispatch.render('hello {{a}}', '{"a": "world, and a long tail"}'), 'hello wo [truncated]',
  'render_max_length is read from dispatch.settings');

select * from finish();
rollback;
