"""``async-usersync example-config``: commented starting files that load as they are."""

from __future__ import annotations

from pathlib import Path

from async_usersync.errors import ConfigError

MAIN_CONFIG = """\
# user-sync-config.yml: the main file of a sync run. async-usersync reads the same keys as
# Adobe's User Sync Tool. Paths are taken relative to this file's folder.

adobe_users:
  connectors:
    # How to reach your Adobe org. For secondary (trustee) orgs, give a list: the primary's file
    # first, then each secondary as name: file, and name its groups name::Group in the mapping:
    #   umapi: [connector-umapi.yml, {org2: connector-org2.yml}]
    umapi: connector-umapi.yml
  # Adobe users that the sync never changes or removes.
  exclude_identity_types:
    - adobeID            # personal accounts belong to their owners
  exclude_adobe_groups:
    - _org_admin         # keep your system administrators out of reach
  # exclude_users:       # regular expressions, matched in full against the username, any case
  #   - ".*@partner\\\\.example\\\\.com"
  # What --update-user-info may change (username is left out unless you list it).
  update_attributes:
    - firstname
    - lastname
    - email

directory_users:
  # Identity type given to new users unless the directory says otherwise.
  user_identity_type: federatedID
  # Country used when a user has none; without it Federated IDs lacking a country are not created.
  default_country_code: US
  connectors:
    ldap: connector-ldap.yml
    csv: connector-csv.yml   # used by --connector csv FILE or --users file FILE
    adobe_console: connector-adobe-console.yml   # another Admin Console org: --connector adobe_console
    okta: connector-okta.yml # used by --connector okta (with --users mapped or group)
  # Which Adobe groups (user groups or product profiles) the members of a directory group get.
  # Only the Adobe groups listed here are ever removed from a user.
  groups:
    - directory_group: Adobe Photoshop Users
      adobe_groups:
        - Photoshop Users
    - directory_group: Adobe Illustrator Users
      adobe_groups:
        - Illustrator Users
  # Directory groups named by a pattern, mapped to Adobe groups named after them.
  # additional_groups:
  #   - source: "ACL-(.+)"
  #     target: "ACL-Grp-\\\\1"
  group_sync_options:
    # Create mapped user groups the org lacks (with --process-groups).
    auto_create: false
  # Python run once per selected user after the mapping, to change its values and groups.
  # extension: extension-config.yml

limits:
  # The most Adobe-only users one run may remove, or strip of groups: a number, or a share
  # of the Adobe users read such as "10%". Above it those actions are skipped, nothing else.
  max_adobe_only_users: 200
  # Count (and act on) only Adobe-only users that still hold mapped groups.
  group_removals_only: false
  # Hold back every removal (exit code 6) when a side read this many fewer users than the last
  # successful run, or a mapped group that had members has none; --accept-shrink accepts it once.
  max_shrink: 20%

logging:
  log_to_file: true
  file_log_directory: logs
  file_log_name_format: "{:%Y-%m-%d}.log"
  file_log_level: info
  console_log_level: info

# Options used when the command line does not give them (the command line wins).
invocation_defaults:
  users: mapped
  process_groups: true
  update_user_info: false
  adobe_only_user_action: preserve
  adobe_users: all
  strategy: sync
  test_mode: false
  # Where the run lock, the last-run record and the run history go (default: this folder). On a
  # locked-down server, a folder the sync account owns while this one stays read-only:
  # state_dir: /var/lib/async-usersync
  # Days the journal (the commands each run sent, for undo; it names people) keeps a run's lines:
  # journal_retention: 90
"""

UMAPI_CONFIG = """\
# connector-umapi.yml: the OAuth Server-to-Server credential of your Adobe org, from the
# Adobe Developer Console (project > credentials). Keep this file readable by the sync account only.

authentication_method: oauth

enterprise:
  org_id: "YOUR_ORG_ID@AdobeOrg"
  client_id: "your client id"
  # Better than the plain value below: leave client_secret out and name an OS keyring entry,
  # stored under this service name with the org id as user:
  # secure_client_secret_key: umapi_client_secret
  client_secret: "your client secret"

server:
  # The defaults reach Adobe; change them only for a test server.
  host: usermanagement.adobe.io
  endpoint: /v2/usermanagement
  auth_host: ims-na1.adobelogin.com
  auth_endpoint: /ims/token/v2
  timeout: 120     # seconds per request
  retries: 3       # failed answers a request may get while other requests go through
  max_outage: 900  # seconds without any accepted request before the rest is reported not sent
  max_retry_after: 3600  # longest single wait UMAPI may ask for; past it the rest is not sent
  user_group_entries: true  # many users' changes of one user group go in entries rooted at the group
"""

LDAP_CONFIG = """\
# connector-ldap.yml: where the directory users come from.

host: "ldaps://ldap.example.com"
base_dn: "dc=example,dc=com"
username: "cn=usersync,ou=service,dc=example,dc=com"
# Better than the plain value: name an OS keyring entry stored under this service name with
# the username above as user:
# secure_password_key: ldap_password
password: "change me"

# Users to read: here, enabled accounts that have a mail address.
all_users_filter: "(&(objectClass=inetOrgPerson)(mail=*))"
# How to find a group by name, and that group's members.
group_filter_format: "(&(objectClass=groupOfNames)(cn={group}))"
group_member_filter_format: "(memberOf={group_dn})"
search_page_size: 1000

# How directory attributes become Adobe user fields.
user_email_format: "{mail}"
user_given_name_format: "{givenName}"
user_surname_format: "{sn}"
user_country_code_format: "{c}"
# user_username_format: "{uid}"   # for usernames that are not email addresses
# user_domain_format: "example.com"
"""

CSV_CONFIG = """\
# connector-csv.yml: how to read a CSV file of users (--connector csv FILE or --users file FILE).
# Every key is optional; the values below are the defaults.

# delimiter: ","                  # by default: comma for .csv files, TAB for any other name
string_encoding: utf8
email_column_name: email
first_name_column_name: firstname
last_name_column_name: lastname
country_column_name: country
groups_column_name: groups        # several groups in one cell, separated by commas
username_column_name: username
domain_column_name: domain
identity_type_column_name: type
"""

EXTENSION_CONFIG = """\
# extension-config.yml: a hook run once for each selected directory user, after the group mapping
# and before the user is matched (named by directory_users.extension in user-sync-config.yml).
# This one does what User Sync's example does: the country from the first two letters of a business
# code, and a company's user group from the company attribute.

# Directory attributes (or CSV columns) the hook reads from source_attributes besides the usual
# ones; one that a user lacks is None.
extended_attributes:
  - businessCategory
  - o

# Adobe groups the hook may assign besides the mapped ones. They count as mapped: with
# --process-groups, a user the hook does not give one of them loses it.
extended_adobe_groups:
  - Company 1 Users
  - Company 2 Users

# The hook's variables: source_attributes (the directory's values), source_groups (directory
# groups), target_attributes (email, username, domain, firstname, lastname, country: change them),
# target_groups (the user's Adobe groups, a set: change it), hook_storage (a dict that lasts the
# run), logger. Line numbers in its errors are this file's.
after_mapping_hook: |
  code = source_attributes.get('businessCategory')
  company = source_attributes.get('o')
  if code is not None:
      target_attributes['country'] = code[0:2]
  if company == 'Company 1':
      target_groups.add('Company 1 Users')
  elif company == 'Company 2':
      target_groups.add('Company 2 Users')
"""

ADOBE_CONSOLE_CONFIG = """\
# connector-adobe-console.yml: another Admin Console org read as the directory (--connector
# adobe_console), e.g. a console fed by Adobe's Azure or Google sync that feeds this one.
# Its users, with the user groups and product profiles they hold there, are mapped like directory
# groups: directory_users.groups[].directory_group names a group of that org (any case).
# It has its own credential, access token and throttle, apart from connector-umapi.yml's org.
# Keep this file readable by the sync account only.

authentication_method: oauth

# The OAuth Server-to-Server credential of the source org (the keys of connector-umapi.yml's
# enterprise section; the secret may come from the OS keyring with secure_client_secret_key).
integration:
  org_id: "SOURCE_ORG_ID@AdobeOrg"
  client_id: "the source org's client id"
  # secure_client_secret_key: source_console_client_secret
  client_secret: "the source org's client secret"

# Read only the users of one identity type (adobeID, enterpriseID, federatedID), or all of them.
identity_type_filter: all

# The defaults reach Adobe. server takes the keys of connector-umapi.yml's server section;
# as User Sync, each request of this org may be tried server.retries + 1 times.
# server:
#   retries: 3
#   max_retry_after: 3600
"""

OKTA_CONFIG = """\
# connector-okta.yml: read the members of Okta groups (--connector okta). Okta has no "all users"
# here: run with --users mapped (the groups in user-sync-config.yml) or --users group A,B.

# Your Okta org; https:// is added when missing (no other scheme is accepted).
host: "example.okta.com"
# An API token of an Okta admin allowed to read groups and users (Okta Admin Console >
# Security > API > Tokens). Better than the plain value: leave api_token out and say where it is
# kept: env:VARIABLE, file:PATH (chmod 600), or an OS keyring service stored with the host as user.
# secure_api_token_key: env:OKTA_API_TOKEN
api_token: "your Okta API token"

# How a mapped group name is searched for (Okta's q=, a name prefix); the exact name is then taken.
group_filter_format: "{group}"
# Which members are users: User Sync's Python-like expressions over user.* and user.profile.*
# with ==, !=, in, not in, and, or, not and text, number or list values, e.g.
#   user.status in ["ACTIVE", "PASSWORD_EXPIRED"] and user.profile.department != "Contractors"
# Anything else (calls, other operators) is refused at start.
all_users_filter: 'user.status == "ACTIVE"'

# How Okta profile fields become Adobe user fields.
user_email_format: "{email}"
user_given_name_format: "{firstName}"
user_surname_format: "{lastName}"
user_country_code_format: "{countryCode}"
# user_username_format: "{login}"   # for usernames that are not email addresses
# user_domain_format: "example.com"
# user_identity_type: federatedID   # else directory_users.user_identity_type
# user_identity_type_format: "{adobeIdentityType}"

# Pacing: where the request rate starts (Okta's documented limit for /api/v1/groups on Workforce
# Identity orgs; 600 on others); Okta's X-Rate-Limit headers and 429s then steer it.
# rate_limit: 500      # requests per rate_window
# rate_window: 60      # seconds
# max_outage: 900      # seconds without an accepted request (429s, an outage) before the read fails
# ca_file: /etc/ssl/certs/proxy-ca.pem   # the CA of a TLS-inspecting proxy
"""

EXAMPLE_FILES = {
    "user-sync-config.yml": MAIN_CONFIG,
    "connector-umapi.yml": UMAPI_CONFIG,
    "connector-ldap.yml": LDAP_CONFIG,
    "connector-csv.yml": CSV_CONFIG,
    "extension-config.yml": EXTENSION_CONFIG,
    "connector-adobe-console.yml": ADOBE_CONSOLE_CONFIG,
    "connector-okta.yml": OKTA_CONFIG,
}


def write_example_config(folder: Path, overwrite: bool = False) -> list[Path]:
    """Writes the example files into ``folder`` and returns their paths. Existing files are left
    alone (an error names the first) unless ``overwrite``."""
    paths = [folder / name for name in EXAMPLE_FILES]
    existing = [path for path in paths if path.exists()]
    if existing and not overwrite:
        raise ConfigError("already exists; remove it or choose another folder", file=existing[0])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path in paths:
            path.write_text(EXAMPLE_FILES[path.name], encoding="utf8")
    except OSError as error:
        raise ConfigError(f"cannot write the example files: {error.strerror}", file=folder) from None
    return paths
