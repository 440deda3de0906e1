{{ config(
    order_by='(app_id, install_ts, install_id)',
    partition_by='toYYYYMM(install_ts)',
    pre_hook="{{ replace_window('install_ts') }}",
) }}
-- One row per install of the run window with the touch that wins before any fraud rule (the
-- first of the ranked_touches waterfall): what the fraud features and the click-quality model
-- judge. fct_installs ranks the same touches after removing the rejected ones.
{%- set winner_columns = ['touch_id', 'touch_type', 'best_method', 'best_score', 'media_source', 'campaign_id',
                          'site_id', 'touch_ts', 'touch_ctit_s', 'click_injected'] %}
{%- set w = tuple_elements('f.winner', winner_columns) %}

with installs as (
    select * from {{ ref('int_attribution__installs') }}
),

{{ ranked_touches() }},

first_touch as (
    select
        install_id,
        argMin(tuple({{ winner_columns | join(', ') }}), rank_key) as winner
    from ranked
    group by install_id
)

select
    i.install_id as install_id,
    i.app_id as app_id,
    toDate(i.install_ts) as install_date,
    i.install_ts as install_ts,
    i.device_key as device_key,
    i.is_reinstall as is_reinstall,
    i.is_anonymous_ip as is_anonymous_ip,
    if(f.install_id = '', null, {{ w.touch_id }}) as winning_touch_id,
    if(f.install_id = '', null, {{ w.touch_type }}) as touch_type,
    if(f.install_id = '', 'organic', {{ w.best_method }}) as match_method,
    if(f.install_id = '', null, round({{ w.best_score }}, 4)) as match_score,
    if(f.install_id = '', null, {{ w.media_source }}) as media_source,
    if(f.install_id = '', null, {{ w.campaign_id }}) as campaign_id,
    if(f.install_id = '', null, {{ w.site_id }}) as site_id,
    if(f.install_id = '', null, {{ w.touch_ts }}) as touch_ts,
    if(f.install_id = '', null, {{ w.touch_ctit_s }}) as ctit_s,
    f.install_id != '' and {{ w.click_injected }} as click_injected
from installs as i
left join first_touch as f on i.install_id = f.install_id
