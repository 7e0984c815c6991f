{#-
  training-env: what a training machine of an autoscaled pool needs. Applied by the deploy
  orchestrate (orch.salt_autoscaler.deploy) on every start of an instance, so every state here
  is idempotent and does nothing when nothing changed.

    container runtime (docker.io | containerd, pillar-selectable; or the image's own: manage_runtime false)
    NVIDIA driver + NVIDIA container toolkit (skipped when training_env:gpu:enabled is false)
    training agent: a systemd unit running the agent container (image/command/env from pillar)
    /usr/local/bin/training-idle: the idle check salt-autoscaler runs before stopping the machine
-#}
{%- from tpldir ~ '/map.jinja' import training_env as te with context %}
{%- set runtime = te.runtimes[te.container_runtime] %}
{%- set refresh = te.pkg_refresh %}

{%- if te.manage_runtime %}
training_env_runtime:
  pkg.installed:
    - pkgs: {{ runtime.pkgs | tojson }}
{%- if refresh is not none %}
    - refresh: {{ refresh | tojson }}
{%- endif %}
  service.running:
    - name: {{ runtime.service | tojson }}
    - enable: True
    - require:
      - pkg: training_env_runtime
{%- if te.gpu.enabled and te.gpu.toolkit.install %}
    - watch:
      - cmd: training_env_nvidia_runtime_config
{%- endif %}
{%- endif %}

{%- if te.gpu.enabled %}
{%-   if te.gpu.driver.install and not te.gpu.driver.pkgs %}

training_env_nvidia_driver:
  test.fail_without_changes:
    - name: set pillar training_env:gpu:driver:pkgs for {{ grains['os'] }} (or training_env:gpu:driver:install false)
    # the comment is what Salt reports as the failure (salt-autoscaler shows it as the instance's reason)
    - comment: set pillar training_env:gpu:driver:pkgs for {{ grains['os'] }} (or training_env:gpu:driver:install false)
{%-   elif te.gpu.driver.install %}

training_env_nvidia_driver:
  pkg.installed:
    - pkgs: {{ te.gpu.driver.pkgs | tojson }}
{%-     if refresh is not none %}
    - refresh: {{ refresh | tojson }}
{%-     endif %}
  kmod.present:
    - name: {{ te.gpu.driver.kmod | tojson }}
    - require:
      - pkg: training_env_nvidia_driver
{%-   endif %}
{%-   if te.gpu.toolkit.install %}
{%-     if grains['os_family'] == 'Debian' %}
{%-       set keyring = '/etc/apt/keyrings/nvidia-container-toolkit.asc' %}

training_env_nvidia_toolkit_key:
  file.managed:
    - name: {{ keyring }}
    - source: {{ te.gpu.toolkit.key_url | tojson }}
{%-       if te.gpu.toolkit.key_hash %}
    - source_hash: {{ te.gpu.toolkit.key_hash | tojson }}
{%-       else %}
    - skip_verify: True
{%-       endif %}
    - makedirs: True
    - mode: '0644'

{#- a plain list file (not pkgrepo.managed): NVIDIA's repository is a flat one (suite "/") #}
training_env_nvidia_toolkit_repo:
  file.managed:
    - name: /etc/apt/sources.list.d/nvidia-container-toolkit.list
    - contents: {{ ('deb [signed-by=' ~ keyring ~ '] ' ~ te.gpu.toolkit.repo_url ~ '/deb/' ~ grains['osarch'] ~ ' /') | tojson }}
    - mode: '0644'
    - require:
      - file: training_env_nvidia_toolkit_key
  cmd.run:
    - name: apt-get update
    - onchanges:
      - file: training_env_nvidia_toolkit_repo
      - file: training_env_nvidia_toolkit_key
{%-       set repo_requisite = 'cmd' %}
{%-     else %}

training_env_nvidia_toolkit_repo:
  pkgrepo.managed:
    - name: nvidia-container-toolkit
    - humanname: NVIDIA Container Toolkit
    - baseurl: {{ (te.gpu.toolkit.repo_url ~ '/rpm/$basearch') | tojson }}
    - gpgcheck: 1
    - repo_gpgcheck: 1
    - gpgkey: {{ te.gpu.toolkit.key_url | tojson }}
{%-       set repo_requisite = 'pkgrepo' %}
{%-     endif %}

training_env_nvidia_toolkit:
  pkg.installed:
    - pkgs: {{ te.gpu.toolkit.pkgs | tojson }}
{%-     if refresh is not none %}
    - refresh: {{ refresh | tojson }}
{%-     endif %}
    - require:
      - {{ repo_requisite }}: training_env_nvidia_toolkit_repo

training_env_nvidia_runtime_config:
  cmd.run:
    - name: nvidia-ctk runtime configure --runtime={{ te.container_runtime }}
    - unless: grep -qs nvidia {{ runtime.config_file }}
    - require:
      - pkg: training_env_nvidia_toolkit
{%-     if te.manage_runtime %}
      - pkg: training_env_runtime
{%-     endif %}
{%-   endif %}
{%- endif %}

training_env_idle_check:
  file.managed:
    - name: {{ te.idle_check.path | tojson }}
    - source: salt://{{ tpldir }}/files/training-idle.jinja
    - template: jinja
    - context:
        te: {{ te | tojson }}
        runtime: {{ runtime | tojson }}
    - user: root
    - group: root
    - mode: '0755'

{%- if te.agent.enabled %}
{%-   if not te.agent.image %}

training_env_agent_image_missing:
  test.fail_without_changes:
    - name: pillar training_env:agent:image is not set (or set training_env:agent:enabled to false)
    # the comment is what Salt reports as the failure (salt-autoscaler shows it as the instance's reason)
    - comment: pillar training_env:agent:image is not set (or set training_env:agent:enabled to false)
{%-   else %}
{%-     set unit = te.agent.name ~ '.service' %}

training_env_agent_env:
  file.managed:
    - name: /etc/training-agent/{{ te.agent.name }}.env
    - source: salt://{{ tpldir }}/files/agent.env.jinja
    - template: jinja
    - context:
        te: {{ te | tojson }}
    - makedirs: True
    - dir_mode: '0700'
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False

training_env_agent_unit:
  file.managed:
    - name: /etc/systemd/system/{{ unit }}
    - source: salt://{{ tpldir }}/files/training-agent.service.jinja
    - template: jinja
    - context:
        te: {{ te | tojson }}
        runtime: {{ runtime | tojson }}
    - user: root
    - group: root
    - mode: '0644'

{#- Salt's systemd service module runs `systemctl daemon-reload` itself when a unit file changed. #}
training_env_agent:
  service.running:
    - name: {{ unit | tojson }}
    - enable: True
    - require:
      - file: training_env_agent_unit
{%-     if te.manage_runtime %}
      - service: training_env_runtime
{%-     endif %}
{%-     if te.gpu.enabled and te.gpu.driver.install and te.gpu.driver.pkgs %}
      - kmod: training_env_nvidia_driver
{%-     endif %}
    - watch:
      - file: training_env_agent_env
      - file: training_env_agent_unit
{%-   endif %}
{%- endif %}
