from django.contrib import admin

from orders.models import Order, OrderLine


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "status", "total", "currency", "created_at"]
    list_filter = ["status", "currency"]
    raw_id_fields = ["customer", "shipping_address"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]
