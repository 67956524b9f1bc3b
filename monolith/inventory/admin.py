from django.contrib import admin

from inventory.models import Reservation, Stock, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "country", "active"]
    list_filter = ["active", "country"]
    search_fields = ["code", "name", "city"]


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ["product_id", "warehouse", "quantity", "updated_at"]
    list_filter = ["warehouse"]
    list_select_related = ["warehouse"]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["product_id", "warehouse", "quantity", "order", "status", "created_at"]
    list_filter = ["status", "warehouse"]
    raw_id_fields = ["order"]
    list_select_related = ["warehouse"]
