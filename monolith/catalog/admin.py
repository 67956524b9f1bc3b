from django.contrib import admin

from catalog.models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["parent"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "active", "category"]
    list_filter = ["active", "currency"]
    search_fields = ["sku", "name"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]
    raw_id_fields = ["category"]
    date_hierarchy = "created_at"
