{% macro org_level_label(org_level) -%}
    case {{ org_level }}
        when 'district' then '1 区'
        when 'township' then '2 乡镇（街道）'
        when 'facility' then '3 基层医疗卫生机构'
    end
{%- endmacro %}

{% macro period_type_label(period_type) -%}
    case {{ period_type }}
        when 'month' then '月度（年初至今）'
        when 'quarter' then '季度（年初至今）'
        when 'year' then '年度'
    end
{%- endmacro %}

{% macro dashboard_org_columns(fact, org_units='org_units') -%}
    {{ fact }}.org_unit_code,
    {{ org_units }}.org_unit_name,
    {{ fact }}.org_level,
    {{ org_level_label(fact ~ '.org_level') }} as org_level_zh,
    {{ org_units }}.township_code,
    {{ org_units }}.township_name,
    case when {{ fact }}.org_level = 'facility' then {{ org_units }}.facility_code end
        as facility_code,
    case when {{ fact }}.org_level = 'facility' then {{ org_units }}.facility_name end
        as facility_name
{%- endmacro %}
