from django.contrib import admin

from customers.models import Address, Customer


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["user", "phone", "marketing_opt_in", "created_at"]
    search_fields = ["user__username", "user__email", "phone"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    inlines = [AddressInline]
