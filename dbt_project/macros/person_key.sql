{% macro person_key(id_number, record_id) -%}
    {#- Pseudonymous person key: hex HMAC-SHA256 of the upper-cased, trimmed ID number; an EHR
        without an ID number gets a key of its own ('EHR:' || record_id). The key is held only in
        the warehouse (keyring.person_key_secret, readable by its owner alone): this renders a
        call of the SECURITY DEFINER function keyring.person_key() (src/phwarehouse/stack/
        person_key.py), so no compiled SQL, XCom, artifact or log contains it.
        dbt unit tests set var person_key_unit_test_key (a public key whose name starts with
        'unit-test') to get fixed expected keys from the same normalisation and HMAC. -#}
    {%- set test_key = var('person_key_unit_test_key', none) -%}
    {%- if test_key is not none -%}
        {%- if not (test_key is string and test_key.startswith('unit-test')) -%}
            {{ exceptions.raise_compiler_error(
                "person_key_unit_test_key is for dbt unit tests only (a value starting with "
                ~ "'unit-test'); the real key lives in the warehouse") }}
        {%- endif -%}
        keyring.person_key_hmac({{ id_number }}, {{ record_id }}, '{{ test_key }}')
    {%- else -%}
        keyring.person_key({{ id_number }}, {{ record_id }})
    {%- endif -%}
{%- endmacro %}
