from servicekit.testing import ServiceContract


class TestServiceContract(ServiceContract):
    service_name = "api-gateway"
    has_database = False
    has_admin = False
    bad_setting = ("TODO_SERVICE_URL", "nonsense")
