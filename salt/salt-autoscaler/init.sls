{#-
  salt-autoscaler: install the service on the Salt master (apply it to the master's own minion,
  or `salt-call --local` on the master with this project's salt/ folder in file_roots).

    Node.js (NodeSource or distro) -> salt-autoscaler: the packed npm package (compiled JavaScript in dist/,
      no build and no TypeScript loader on the master), from the npm registry, a tarball URL, or a tarball
      on the Salt file server (`npm pack` in a checkout)
    user salt-autoscaler (also the PAM user of the external_auth entry)
    /etc/salt-autoscaler/config.yaml (pillar salt_autoscaler:config), /etc/salt-autoscaler/env (0600)
    with ha: /etc/salt-autoscaler/etcd/<ca|cert|key>.pem (pillar salt_autoscaler:etcd_tls), see pillar-ha.example
    salt-autoscaler.service (systemd), the master.d snippet and the reactor SLS
-#}
{%- from tpldir ~ '/map.jinja' import salt_autoscaler as sa with context %}
{%- set version = sa.install.version | string %}
{%- if sa.install.source == 'tarball' %}
{%-   set spec = sa.install.tarball_url %}
{%- elif sa.install.source == 'salt' %}
{%-   set spec = '/var/cache/salt-autoscaler/salt-autoscaler-' ~ version ~ '.tgz' %}
{%- else %}
{%-   set spec = 'salt-autoscaler@' ~ version %}
{%- endif %}

{%- if sa.nodejs.source == 'nodesource' %}

salt_autoscaler_nodesource_key:
  file.managed:
    - name: /etc/apt/keyrings/nodesource.asc
    - source: {{ sa.nodejs.nodesource_key_url | tojson }}
    - skip_verify: True
    - makedirs: True
    - mode: '0644'

salt_autoscaler_nodesource_repo:
  file.managed:
    - name: /etc/apt/sources.list.d/nodesource.list
    - contents: {{ ('deb [signed-by=/etc/apt/keyrings/nodesource.asc] https://deb.nodesource.com/node_' ~ sa.nodejs.nodesource_major ~ '.x nodistro main') | tojson }}
    - mode: '0644'
    - require:
      - file: salt_autoscaler_nodesource_key
  cmd.run:
    - name: apt-get update
    - onchanges:
      - file: salt_autoscaler_nodesource_repo
      - file: salt_autoscaler_nodesource_key
{%- endif %}

salt_autoscaler_nodejs:
  pkg.installed:
{%- if sa.nodejs.source == 'nodesource' %}
    {#- NodeSource's nodejs package carries npm #}
    - pkgs: [nodejs]
    - require:
      - cmd: salt_autoscaler_nodesource_repo
{%- else %}
    - pkgs: [nodejs, npm]
{%- endif %}

{%- if sa.install.source == 'salt' %}

salt_autoscaler_tarball:
  file.managed:
    - name: {{ spec | tojson }}
    - source: {{ sa.install.salt_tarball | tojson }}
    - makedirs: True
    - mode: '0644'
{%- endif %}

salt_autoscaler_package:
  cmd.run:
    - name: npm install -g --omit=dev {{ spec | tojson }}
    - unless: test "$(node -p "require('$(npm root -g)/salt-autoscaler/package.json').version" 2>/dev/null)" = {{ version | tojson }}
    - require:
      - pkg: salt_autoscaler_nodejs
{%- if sa.install.source == 'salt' %}
      - file: salt_autoscaler_tarball
{%- endif %}

salt_autoscaler_user:
  group.present:
    - name: {{ sa.user | tojson }}
    - system: True
  user.present:
    - name: {{ sa.user | tojson }}
    - gid: {{ sa.user | tojson }}
    - system: True
    - home: /var/lib/salt-autoscaler
    - createhome: False
    - shell: /usr/sbin/nologin
{%- if sa.password_hash %}
    - password: {{ sa.password_hash | tojson }}
{%- endif %}
    - require:
      - group: salt_autoscaler_user

salt_autoscaler_config_dir:
  file.directory:
    - name: /etc/salt-autoscaler
    - user: root
    - group: {{ sa.user | tojson }}
    - mode: '0750'
    - require:
      - user: salt_autoscaler_user

{%- if not sa.config %}

salt_autoscaler_config:
  test.fail_without_changes:
    - name: pillar salt_autoscaler:config is empty (it becomes /etc/salt-autoscaler/config.yaml)
{%- else %}

salt_autoscaler_config:
  file.serialize:
    - name: /etc/salt-autoscaler/config.yaml
    - dataset_pillar: salt_autoscaler:config
    - serializer: yaml
    - user: root
    - group: {{ sa.user | tojson }}
    - mode: '0640'
    - require:
      - file: salt_autoscaler_config_dir
{%- endif %}

{#- ha on etcd: the client CA / certificate / key named by config.ha.etcd.tls, from the file server or pillar #}
{%- for name, file in sa.etcd_tls | dictsort %}

salt_autoscaler_etcd_tls_{{ name }}:
  file.managed:
    - name: {{ ('/etc/salt-autoscaler/etcd/' ~ name ~ '.pem') | tojson }}
{%-   if file.source is defined %}
    - source: {{ file.source | tojson }}
{%-   else %}
    - contents_pillar: {{ ('salt_autoscaler:etcd_tls:' ~ name ~ ':contents') | tojson }}
{%-   endif %}
    - makedirs: True
    - user: root
    - group: {{ sa.user | tojson }}
    - mode: '0640'
    - show_changes: False
    - require:
      - file: salt_autoscaler_config_dir
{%- endfor %}

salt_autoscaler_env:
  file.managed:
    - name: /etc/salt-autoscaler/env
    - source: salt://{{ tpldir }}/files/env.jinja
    - template: jinja
    - context:
        sa: {{ sa | tojson }}
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False
    - require:
      - file: salt_autoscaler_config_dir

salt_autoscaler_unit:
  file.managed:
    - name: /etc/systemd/system/salt-autoscaler.service
    - source: salt://{{ tpldir }}/files/salt-autoscaler.service.jinja
    - template: jinja
    - context:
        sa: {{ sa | tojson }}
    - user: root
    - group: root
    - mode: '0644'

{#- Salt's systemd service module runs `systemctl daemon-reload` itself when a unit file changed. #}
salt_autoscaler_service:
  service.running:
    - name: salt-autoscaler
    - enable: True
    - require:
      - cmd: salt_autoscaler_package
      - user: salt_autoscaler_user
    - watch:
      - cmd: salt_autoscaler_package
{%- if sa.config %}
      - file: salt_autoscaler_config
{%- endif %}
      - file: salt_autoscaler_env
      - file: salt_autoscaler_unit
{%- for name in sa.etcd_tls | sort %}
      - file: salt_autoscaler_etcd_tls_{{ name }}
{%- endfor %}

{%- if sa.salt_files.manage %}

salt_autoscaler_master_conf:
  file.managed:
    - name: {{ sa.salt_files.master_conf | tojson }}
    - source: {{ sa.salt_files.master_conf_source | tojson }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0640'

{#- copied verbatim: the reactor SLS is rendered by the master at each event, not here #}
salt_autoscaler_reactor:
  file.managed:
    - name: {{ sa.salt_files.reactor | tojson }}
    - source: {{ sa.salt_files.reactor_source | tojson }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'

{#- the master reads external_auth, reactor and netapi settings at start: tell, do not restart
    the master under the state run that may be talking to it #}
salt_autoscaler_restart_needed:
  test.configurable_test_state:
    - name: restart salt-master and salt-api to load {{ sa.salt_files.master_conf }}
    - changes: False
    - result: True
    - comment: run `systemctl restart salt-master salt-api` to load the salt-autoscaler master settings
    - onchanges:
      - file: salt_autoscaler_master_conf
      - file: salt_autoscaler_reactor
{%- endif %}
