{#- The hashed (keyed) device identity of an app user: vendor id first, then the ad id.
    Analytics tables carry this key, never the raw ids (SPEC §8). -#}
{% macro device_key(app_id, idfv, android_id, device_id, fallback) -%}
    lower(hex(SHA256(concat('{{ var("unmogrowp__device_key_salt") }}', ':', {{ app_id }}, ':',
        coalesce({{ idfv }}, {{ android_id }}, {{ device_id }}, concat('event:', {{ fallback }}))))))
{%- endmacro %}
