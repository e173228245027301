from servicekit.testing import ServiceContract


class TestServiceContract(ServiceContract):
    service_name = "todo-service"
