{#-
  orch.salt_autoscaler.deploy: deploy one started instance of an autoscaled pool.
  Run by the reactor (salt/reactor/salt-autoscaler/minion-start.sls) with pillar
  {target_minion: <minion id>}; by hand:
    salt-run state.orchestrate orch.salt_autoscaler.deploy pillar='{"target_minion": "gpu-prod-type1-1"}'

    reset_ready_grain --ok--> apply_training_env --ok--> set_ready_grain --ok--> announce_ready
          |                          |                         |
          +---------- any of these fails (onfail, OR logic) ---+--> announce_failed

  - reset_ready_grain: a reserved instance keeps its grains while stopped, so the grain left
    from its previous life (ready: True) is cleared before anything else.
  - announce_ready / announce_failed use the RUNNER event.send, so the events come from the
    master as `salt-autoscaler/instance/<id>/ready|failed` with data {id, ...}; salt-autoscaler
    reads the minion id from the tag.
  - announce_failed carries a fixed `reason` (which step failed is not available to Jinja,
    which renders before any step runs). The failing state's id and comment are in the minion's
    state return (`salt/job/<jid>/ret/<id>`, before this event) and in the orchestrate's own
    `salt/run/<jid>/ret` (after it): salt-autoscaler reads them there and records the failed
    instance's reason as `<state id>: <comment>`.
  - `now_s` is rendered when the orchestrate renders, i.e. when the deploy STARTS, not when
    the ready grain is written. That is still later than the service's last start command for
    the instance, which is the comparison that matters (a grain stamped before the last start
    is stale). Both grain writes carry the same value.
-#}
{%- set target = salt['pillar.get']('target_minion', '') | string %}
{%- set now_s = salt['cmd.run']('date +%s') | int %}

{%- if not target %}
salt_autoscaler_target_missing:
  test.fail_without_changes:
    - name: orch.salt_autoscaler.deploy needs pillar target_minion (the minion id to deploy)
    # the comment is what Salt reports as the failure (salt-autoscaler shows it as the instance's reason)
    - comment: orch.salt_autoscaler.deploy needs pillar target_minion (the minion id to deploy)
{%- else %}
reset_ready_grain:
  salt.function:
    - name: grains.setval
    - tgt: {{ target | tojson }}
    - arg:
      - salt_autoscaler
      - {ready: False, draining: False, deploy_started_at: {{ now_s }}}

apply_training_env:
  salt.state:
    - tgt: {{ target | tojson }}
    - sls:
      - training-env
    - require:
      - salt: reset_ready_grain

set_ready_grain:
  salt.function:
    - name: grains.setval
    - tgt: {{ target | tojson }}
    - arg:
      - salt_autoscaler
      - {ready: True, deployed_at: {{ now_s }}, draining: False}
    - require:
      - salt: apply_training_env

announce_ready:
  salt.runner:
    - name: event.send
    - tag: salt-autoscaler/instance/{{ target }}/ready
    - data:
        id: {{ target | tojson }}
        deployed_at: {{ now_s }}
    - require:
      - salt: set_ready_grain

announce_failed:
  salt.runner:
    - name: event.send
    - tag: salt-autoscaler/instance/{{ target }}/failed
    - data:
        id: {{ target | tojson }}
        reason: 'deploy orchestrate orch.salt_autoscaler.deploy failed (grain reset, state training-env or ready grain); see its salt/run/<jid>/ret'
        sls: training-env
        deploy_started_at: {{ now_s }}
    - onfail:
      - salt: reset_ready_grain
      - salt: apply_training_env
      - salt: set_ready_grain
{%- endif %}
