{% macro person_key(id_number, record_id) -%}
    {#- Pseudonymous person key: hex HMAC-SHA256 of the upper-cased, trimmed ID number with the
        secret var person_key_secret (dbt_project.yml: env PERSON_KEY_SECRET); an EHR without an ID
        number gets a key of its own ('EHR:' || record_id). Only models materialized as tables
        may call it (a view would show the secret in the catalog). -#}
    {%- set secret = var('person_key_secret') -%}
    encode(
        hmac(
            coalesce(nullif(upper(btrim({{ id_number }})), ''), 'EHR:' || {{ record_id }}),
            '{{ secret }}',
            'sha256'
        ),
        'hex'
    )
{%- endmacro %}
