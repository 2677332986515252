-- depends_on: {{ ref('int_persons') }}
-- person_sk (macro person_sk) is PostgreSQL's 64-bit text hash of person_key, and the
-- incremental person x window tables keep the person_sk their rows were written with. Should
-- the server's hash ever change (a major upgrade), rows under the old values would stay beside
-- the new ones. This pins the hash of a fixed text: if it fails, run
-- `dbt build --full-refresh` (warehouse_transform with {"full_refresh": true}), then put the
-- new value here.
with canary as (

    select {{ person_sk("'phwarehouse person_sk canary'") }} as person_sk

)

select person_sk from canary
where person_sk <> 6357960420358190041
