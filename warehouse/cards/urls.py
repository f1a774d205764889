from django.urls import path

from warehouse.cards import views

app_name = "cards"

urlpatterns = [path("", views.version_register, name="register")]
