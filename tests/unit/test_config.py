"""Settings: ${VAR:default} substitution and validation that names the bad key."""

import copy

import pytest
import yaml

from services.common.config import (
    DEFAULT_SETTINGS,
    ConfigError,
    database_name,
    load_settings,
    read_yaml,
    substitute_env,
    validate_settings,
)

REAL = "deploy/config/services.yaml"


class TestSubstituteEnv:
    def test_variable_replaced(self):
        assert substitute_env("${HOST}", {"HOST": "mq.local"}) == "mq.local"

    def test_default_used_when_unset(self):
        assert substitute_env("${HOST:localhost}", {}) == "localhost"

    def test_environment_wins_over_default(self):
        assert substitute_env("${HOST:localhost}", {"HOST": "mq.local"}) == "mq.local"

    def test_empty_value_and_empty_default(self):
        assert substitute_env("${HOST:x}", {"HOST": ""}) == ""
        assert substitute_env("a${HOST:}b", {}) == "ab"

    def test_default_may_contain_colons_and_slashes(self):
        assert substitute_env("${AMQP_URI:amqp://guest:guest@127.0.0.1:5672/}", {}) == (
            "amqp://guest:guest@127.0.0.1:5672/")

    def test_several_references_in_one_string(self):
        assert substitute_env("${H:localhost}:${P:80}/x", {"P": "8080"}) == "localhost:8080/x"

    def test_missing_without_default_names_the_variable(self):
        with pytest.raises(ConfigError, match="environment variable SECRET_HOST is not set"):
            substitute_env({"a": ["ok", "${SECRET_HOST}"]}, {})

    def test_walks_dicts_and_lists_and_keeps_other_types(self):
        tree = {"a": "${A:1}", "b": [1, "${B:two}", {"c": "${C}"}], "d": 2.5, "e": None,
                "f": True}
        assert substitute_env(tree, {"C": "three"}) == {
            "a": "1", "b": [1, "two", {"c": "three"}], "d": 2.5, "e": None, "f": True}

    def test_text_without_references_unchanged(self):
        assert substitute_env("plain $HOME {x}", {}) == "plain $HOME {x}"

    def test_defaults_to_process_environment(self, monkeypatch):
        monkeypatch.setenv("AFTERSALES_UNIT_TEST_VAR", "from-os")
        assert substitute_env("${AFTERSALES_UNIT_TEST_VAR:no}") == "from-os"


class TestRealSettings:
    def test_loads_with_an_empty_environment(self):
        settings = load_settings(REAL, {})
        assert settings["AMQP_URI"] == "amqp://guest:guest@127.0.0.1:5672/"
        assert settings["MONGO_URI"].startswith("mongodb://")
        assert settings["db_prefix"] == "aftersales"
        assert settings["branches"] == ["SH", "SZ"]
        assert settings["max_workers"] == 10
        assert settings["rpc_timeout_seconds"] == 10.0
        assert settings["delivery_attempts"] == 5
        assert settings["outbox"]["lease_seconds"] == 15.0
        assert settings["dispatch"]["offer_timeout_seconds"] == 900.0
        assert settings["dispatch"]["at_risk_share"] == 0.8
        assert settings["http"] == {"host": "127.0.0.1", "gateway_port": 8080,
                                    "max_body_bytes": 65536}
        assert settings["metrics_ports"]["intake"] == 9101
        assert settings["reference_data"] == "deploy/config/reference.yaml"

    def test_default_path_and_aftersales_config(self, tmp_path):
        assert load_settings(None, {}) == load_settings(REAL, {})
        other = tmp_path / "other.yaml"
        raw = yaml.safe_load(DEFAULT_SETTINGS.read_text(encoding="utf-8"))
        raw["max_workers"] = 3
        other.write_text(yaml.safe_dump(raw), encoding="utf-8")
        assert load_settings(None, {"AFTERSALES_CONFIG": str(other)})["max_workers"] == 3

    def test_relative_path_is_relative_to_the_project(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert load_settings(REAL, {})["db_prefix"] == "aftersales"

    def test_environment_overrides(self):
        settings = load_settings(REAL, {"MAX_WORKERS": "25", "BRANCHES": " sh , sz,",
                                        "DB_PREFIX": "demo_1", "GATEWAY_PORT": "9000"})
        assert settings["max_workers"] == 25
        assert settings["branches"] == ["SH", "SZ"]
        assert settings["http"]["gateway_port"] == 9000
        assert settings["metrics_ports"]["gateway"] == 9000
        assert database_name(settings, "intake") == "demo_1_intake"

    @pytest.mark.parametrize(("env", "message"), [
        ({"MAX_WORKERS": "many"}, "config key 'max_workers': Not a valid integer."),
        ({"MAX_WORKERS": "0"}, "config key 'max_workers'"),
        ({"MAX_WORKERS": "500"}, "config key 'max_workers'"),
        ({"AMQP_URI": "http://rabbit"}, "config key 'AMQP_URI'"),
        ({"MONGO_URI": "postgres://db"}, "config key 'MONGO_URI'"),
        ({"DB_PREFIX": "bad prefix!"}, "config key 'db_prefix'"),
        ({"BRANCHES": "S1"}, "config key 'branches': Branch codes are 2-8 letters"),
        ({"BRANCHES": ","}, "config key 'branches'"),
        ({"RPC_TIMEOUT_SECONDS": "0"}, "config key 'rpc_timeout_seconds'"),
        ({"DELIVERY_ATTEMPTS": "x"}, "config key 'delivery_attempts'"),
        ({"OUTBOX_LEASE_SECONDS": "0.5"}, "config key 'outbox.lease_seconds'"),
        ({"OFFER_TIMEOUT_SECONDS": "soon"}, "config key 'dispatch.offer_timeout_seconds'"),
        ({"GATEWAY_PORT": "70000"}, "config key 'http.gateway_port'"),
        ({"INTAKE_METRICS_PORT": "x"}, "config key 'metrics_ports.intake"),
    ])
    def test_bad_value_names_the_key(self, env, message):
        with pytest.raises(ConfigError) as caught:
            load_settings(REAL, env)
        assert message in str(caught.value)


class TestValidateSettings:
    BASE = load_settings(REAL, {})

    def raw(self, **changes):
        raw = copy.deepcopy(self.BASE)
        raw.update(changes)
        return raw

    def test_valid_settings_pass_with_extra_keys_kept(self):
        settings = validate_settings(self.raw(AMQP_URI="amqps://mq:5671/", extra_key="kept"))
        assert settings["AMQP_URI"] == "amqps://mq:5671/"
        assert settings["extra_key"] == "kept"

    def test_values_are_converted(self):
        settings = validate_settings(self.raw(max_workers="7", branches="sh"))
        assert settings["max_workers"] == 7
        assert settings["branches"] == ["SH"]

    def test_missing_key_named(self):
        raw = self.raw()
        del raw["tokens_file"]
        with pytest.raises(ConfigError, match="config key 'tokens_file': Missing data"):
            validate_settings(raw)

    def test_nested_missing_key_named(self):
        raw = self.raw(dispatch={"offer_timeout_seconds": 900})
        with pytest.raises(ConfigError, match="config key 'dispatch.at_risk_share'"):
            validate_settings(raw)

    def test_at_risk_share_bounds(self):
        for share in (0.05, 1.0):
            raw = self.raw(dispatch={"offer_timeout_seconds": 900, "at_risk_share": share})
            with pytest.raises(ConfigError, match="dispatch.at_risk_share"):
                validate_settings(raw)

    def test_branch_list_given_as_a_list(self):
        assert validate_settings(self.raw(branches=["sz"]))["branches"] == ["SZ"]
        with pytest.raises(ConfigError, match="config key 'branches'"):
            validate_settings(self.raw(branches=[]))

    def test_body_limit_floor(self):
        http = {"host": "0.0.0.0", "gateway_port": 80, "max_body_bytes": 100}
        with pytest.raises(ConfigError, match="config key 'http.max_body_bytes'"):
            validate_settings(self.raw(http=http))


class TestReadYaml:
    def test_missing_file(self, tmp_path):
        with pytest.raises(ConfigError, match="cannot read config file"):
            read_yaml(tmp_path / "absent.yaml", {})

    def test_invalid_yaml(self, tmp_path):
        path = tmp_path / "bad.yaml"
        path.write_text("a: [1, 2\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="is not valid YAML"):
            read_yaml(path, {})

    def test_empty_file_is_an_empty_dict(self, tmp_path):
        path = tmp_path / "empty.yaml"
        path.write_text("", encoding="utf-8")
        assert read_yaml(path, {}) == {}

    def test_substitutes_the_given_environment(self, tmp_path):
        path = tmp_path / "s.yaml"
        path.write_text("a: ${A:1}\nb: ['${B}']\n", encoding="utf-8")
        assert read_yaml(path, {"B": "x"}) == {"a": "1", "b": ["x"]}
        with pytest.raises(ConfigError, match="B is not set"):
            read_yaml(path, {})


class TestBranchDeployment:
    def test_branch_narrows_the_served_branches_to_one(self):
        settings = load_settings(REAL, {"BRANCH": "sz"})
        assert settings["branch"] == "SZ"
        assert settings["branches"] == ["SZ"]

    def test_branch_wins_over_the_local_run_list(self):
        assert load_settings(REAL, {"BRANCH": "SH", "BRANCHES": "SH,SZ"})["branches"] == ["SH"]

    def test_without_branch_the_list_is_served(self):
        settings = load_settings(REAL, {"BRANCHES": "SH,SZ"})
        assert settings["branch"] == ""
        assert settings["branches"] == ["SH", "SZ"]

    def test_bad_branch_code_is_named(self):
        with pytest.raises(ConfigError, match="config key 'branch': A branch code is 2-8"):
            load_settings(REAL, {"BRANCH": "S1"})
