{#-
  salt-autoscaler reactor for `salt/minion/<id>/start` (mapped in master.d/salt-autoscaler.conf).

  It deploys ONLY the minions of autoscaled pools: it runs the orchestrate
  orch.salt_autoscaler.deploy with pillar {target_minion: <id>}. salt-autoscaler reads
  exactly `fun_args[0].pillar.target_minion` from the `salt/run/<jid>/new` event to tie the
  orchestrate to the instance, so keep that name.

  Minion filter: the minion id is matched against POOL_MINION_GLOBS below. A reactor renders
  on the master with only the event `data`, so an id pattern is the one test that needs no
  lookup (a grain or pillar test would need the minion's data cache, which may be stale on a
  restarted instance). Keep this list equal to the pools' `reserved` / `reservedPattern` and
  to the target of the external_auth entry. `*` matches any run of characters (including
  none); no other glob characters are special.
-#}
{%- set POOL_MINION_GLOBS = ['gpu-prod-*', 'gpu-dev-*'] %}

{%- set minion_id = data.get('id', '') | string %}
{%- set found = namespace(managed=False) %}
{%- for glob in POOL_MINION_GLOBS %}
{%-   set parts = glob.split('*') %}
{%-   if parts | length == 1 %}
{%-     if minion_id == glob %}{% set found.managed = True %}{% endif %}
{%-   elif minion_id.startswith(parts[0]) and minion_id.endswith(parts[-1])
          and minion_id | length >= (parts[0] | length) + (parts[-1] | length) %}
{#-     the middle parts must appear in order between the first and the last part #}
{%-     set scan = namespace(pos=parts[0] | length, ok=True) %}
{%-     set end = (minion_id | length) - (parts[-1] | length) %}
{%-     for part in parts[1:-1] %}
{%-       set at = minion_id.find(part, scan.pos, end) %}
{%-       if at < 0 %}{% set scan.ok = False %}{% else %}{% set scan.pos = at + (part | length) %}{% endif %}
{%-     endfor %}
{%-     if scan.ok %}{% set found.managed = True %}{% endif %}
{%-   endif %}
{%- endfor %}

{%- if found.managed %}
salt_autoscaler_deploy:
  runner.state.orchestrate:
    - args:
      - mods: orch.salt_autoscaler.deploy
      - pillar:
          target_minion: {{ minion_id | tojson }}
{%- endif %}
