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
